-- heartbeat: this replica is alive now; returns how many replicas were alive in the last window.
--
-- KEYS[1] keymux:replicas (zset replica id -> last heartbeat, ms); ARGV: 1 replica id,
-- 2 window (ms). Replicas not seen within the window are dropped. Returns {alive, Redis' now in ms}
-- (the caller learns how far its clock is from Redis').

local now = now_ms()
local window = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('PEXPIRE', KEYS[1], 2 * window)
return {redis.call('ZCARD', KEYS[1]), now}
