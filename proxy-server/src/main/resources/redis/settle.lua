-- settle: after the upstream answered, correct the TPM reservation and release the request's
-- concurrency slot.
--
-- KEYS[1] keymux:{id}:bucket, KEYS[2] keymux:{id}:inflight, KEYS[3] keymux:{id}:leases
-- ARGV: 1 rpm, 2 rpm capacity, 3 tpm, 4 tpm capacity ('' = unlimited), 5 reserved tokens,
--       6 actual tokens, 7 release the slot (1/0), 8 replica id, 9 lease ttl (ms)
-- Refund (actual < reserved) is capped at the capacity; a charge (actual > reserved) may take
-- the bucket below zero, which later requests then wait out. Both buckets are refilled before
-- writing because they share one refill timestamp. Returns the replica's remaining in-flight.

local now = now_ms()
local rpm, tpm = opt(ARGV[1]), opt(ARGV[3])
local rpm_cap, tpm_cap = opt(ARGV[2]) or rpm, opt(ARGV[4]) or tpm
local reserved, actual = tonumber(ARGV[5]), tonumber(ARGV[6])
local replica, lease_ttl = ARGV[8], tonumber(ARGV[9])

if tpm and reserved ~= actual then
  local r, t = load_buckets(KEYS[1], now, rpm, rpm_cap, tpm, tpm_cap)
  store_buckets(KEYS[1], now, rpm, rpm_cap, r, tpm, tpm_cap, math.min(tpm_cap, t + reserved - actual))
end

local left = 0
if ARGV[7] == '1' then
  left = redis.call('HINCRBY', KEYS[2], replica, -1)
  if left <= 0 then
    -- Never below zero: a slot already dropped with an expired lease is not released twice.
    redis.call('HDEL', KEYS[2], replica)
    redis.call('ZREM', KEYS[3], replica)
    left = 0
  else
    redis.call('ZADD', KEYS[3], now + lease_ttl, replica)
    keep_for(lease_ttl, KEYS[2], KEYS[3])
  end
end
return left
