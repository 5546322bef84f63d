-- snapshot: read one key's shared state for the admin API; writes nothing.
--
-- KEYS as try_take.lua (1 bucket, 2 inflight, 3 leases, 4 cooldown, 5 circuit, 6 probe,
-- 7 disabled, 8 usage, 11 quota, 12 disabled probe, 13 enabled counter); ARGV: 1 rpm, 2 rpm capacity, 3 tpm, 4 tpm capacity ('' = unlimited),
-- 5 spend key prefix, 6 the credential fingerprint now, 7 usage slot width (ms).
-- Returns {now, cooldown_until, open_until, fails, probe_in_flight, disabled, spend_today,
-- in_flight, rpm_left, tpm_left, requests_last_minute, tokens_last_minute, quota_probe_at,
-- disabled_probe_at, enabled_count} with numbers as strings ('' for an unlimited bucket) so
-- fractions survive Lua's integer conversion of replies.

local now, sec = now_ms()
local rpm, tpm = opt(ARGV[1]), opt(ARGV[3])
local rpm_cap, tpm_cap = opt(ARGV[2]) or rpm, opt(ARGV[4]) or tpm

local cooldown = tonumber(redis.call('GET', KEYS[4]) or '0')
if cooldown <= now then cooldown = 0 end
local c = redis.call('HMGET', KEYS[5], 'fails', 'open_until')
local width = tonumber(ARGV[7])
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
  (redis.call('GET', KEYS[7]) == ARGV[6]) and '1' or '0',
  redis.call('GET', ARGV[5] .. utc_day(sec)) or '0',
  tostring(live_in_flight(KEYS[2], KEYS[3], now, false)),
  r and string.format('%.6f', r) or '',
  t and string.format('%.6f', t) or '',
  tostring(math.max(0, req)),
  tostring(math.max(0, tok)),
  tostring(tonumber(redis.call('GET', KEYS[11]) or '0')),
  tostring(tonumber(redis.call('GET', KEYS[12]) or '0')),
  tostring(tonumber(redis.call('GET', KEYS[13]) or '0'))
}
