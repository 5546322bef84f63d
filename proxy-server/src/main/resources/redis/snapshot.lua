-- snapshot: read one key's shared state for the admin API; writes nothing.
--
-- KEYS as try_take.lua (1 bucket, 2 inflight, 3 leases, 4 cooldown, 5 circuit, 6 probe,
-- 7 disabled, 8 usage, 11 quota, 12 disabled probe, 13 enabled counter); ARGV, by name
-- (named_args): rpm, rpm_cap, tpm, tpm_cap ('' = unlimited), spend_prefix, credential (the
-- fingerprint now), usage_slot_ms (usage slot width).
-- Returns {now, cooldown_until, open_until, fails, probe_in_flight, disabled, spend_today,
-- in_flight, rpm_left, tpm_left, requests_last_minute, tokens_last_minute, quota_probe_at,
-- disabled_probe_at, enabled_count} with numbers as strings ('' for an unlimited bucket) so
-- fractions survive Lua's integer conversion of replies.

local a = named_args()
local now, sec = now_ms()
local rpm, tpm = opt(a.rpm), opt(a.tpm)
local rpm_cap, tpm_cap = opt(a.rpm_cap) or rpm, opt(a.tpm_cap) or tpm
local spend_prefix, credential, width = a.spend_prefix, a.credential, tonumber(a.usage_slot_ms)

local cooldown = tonumber(redis.call('GET', KEYS[4]) or '0')
if cooldown <= now then cooldown = 0 end
local c = redis.call('HMGET', KEYS[5], 'fails', 'open_until')
local slot = math.floor(now / width)
local req, tok = 0, 0
local u = redis.call('HGETALL', KEYS[8])
for i = 1, #u, 2 do
  local n = tonumber(string.sub(u[i], 2))
  -- The current slot and the five before it: the last 50 to 60 s.
  if n and n > slot - 6 then
    if string.sub(u[i], 1, 1) == 'r' then req = req + tonumber(u[i + 1]) else tok = tok + tonumber(u[i + 1]) end
  end
end
local r, t = load_buckets(KEYS[1], now, rpm, rpm_cap, tpm, tpm_cap)
return {
  tostring(now),
  tostring(cooldown),
  tostring(tonumber(c[2]) or 0),
  tostring(tonumber(c[1]) or 0),
  tostring(redis.call('EXISTS', KEYS[6])),
  (redis.call('GET', KEYS[7]) == credential) and '1' or '0',
  redis.call('GET', spend_prefix .. utc_day(sec)) or '0',
  tostring(live_in_flight(KEYS[2], KEYS[3], now, false)),
  r and string.format('%.6f', r) or '',
  t and string.format('%.6f', t) or '',
  tostring(math.max(0, req)),
  tostring(math.max(0, tok)),
  tostring(tonumber(redis.call('GET', KEYS[11]) or '0')),
  tostring(tonumber(redis.call('GET', KEYS[12]) or '0')),
  tostring(tonumber(redis.call('GET', KEYS[13]) or '0'))
}
