-- coolDownUntil: move a key's cooldown deadline later, never earlier.
--
-- KEYS[1] keymux:{id}:cooldown; ARGV[1] the deadline (epoch ms).
-- Returns the deadline now in force (0 when none). The key expires at its deadline.

local now = now_ms()
local wanted = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if wanted > current and wanted > now then
  redis.call('SET', KEYS[1], wanted, 'PXAT', wanted)
  return wanted
end
if current > now then return current end
return 0
