-- enable: POST /admin/keys/{key_id}/enable on the shared state: the operator says the key works.
--
-- KEYS as try_take.lua (4 cooldown, 5 circuit, 6 probe, 7 disabled, 11 quota, 12 disabled probe,
-- 13 enabled counter), then KEYS[14..] the cooldown of each of the key's models buckets.
-- Clears disabled, quota_exhausted, an open circuit and every cooldown, and bumps the enabled
-- counter, which every replica reads with its shared view and then clears its own copy of that
-- state. Returns the counter.

for i = 14, #KEYS do
  redis.call('DEL', KEYS[i])
end
redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[11], KEYS[12])
return redis.call('INCR', KEYS[13])
