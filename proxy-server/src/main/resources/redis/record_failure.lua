-- recordFailure: count a consecutive failure; open the circuit at the threshold.
--
-- KEYS[1] keymux:{id}:circuit (hash fails, open_until, cooldown_ms), KEYS[2] keymux:{id}:probe
-- ARGV: 1 threshold, 2 circuit cooldown (ms)
-- A failure while half-open (the probe failed) reopens at once. While open, failures of
-- requests admitted before it opened change nothing. Returns {state, open_until}.
-- The hash expires a day after the last change (after the open period when open), so a key that
-- failed once long ago starts clean.

local now = now_ms()
local threshold, cooldown = tonumber(ARGV[1]), tonumber(ARGV[2])
local c = redis.call('HMGET', KEYS[1], 'fails', 'open_until')
local open_until = tonumber(c[2]) or 0
local day = 86400000

if open_until > now then
  return {'open', open_until}
end

local fails = 0
if open_until == 0 then
  fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
end
if open_until > 0 or fails >= threshold then
  local until_ms = now + cooldown
  redis.call('HSET', KEYS[1], 'fails', 0, 'open_until', until_ms, 'cooldown_ms', cooldown)
  redis.call('PEXPIRE', KEYS[1], cooldown + day)
  redis.call('DEL', KEYS[2])
  return {'open', until_ms}
end
redis.call('PEXPIRE', KEYS[1], day)
return {'closed', 0}
