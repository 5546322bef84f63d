-- Prelude shared by every keymux script (SharedKeyState prepends it to each script before loading).
-- Time comes from Redis (TIME), never from the caller, so every replica shares one clock.
-- Scripts are replicated by effects (the Redis 7 default), which is what makes TIME usable here.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[1])
end

-- The caller's arguments by name: ARGV holds name/value pairs ('rpm', '600', 'tpm', '', ...),
-- built in one place in SharedKeyState (ScriptArgs), so no value can land in another's place.
-- Reading a name the caller did not send fails the script, never means "unset": each script
-- reads all of its arguments at its top.
local function named_args()
  local args = {}
  for i = 1, #ARGV, 2 do
    args[ARGV[i]] = ARGV[i + 1]
  end
  return setmetatable(args, {__index = function(_, name) error('missing script argument: ' .. name) end})
end

-- An argument that is '' means "unset" (unlimited).
local function opt(s)
  if s == nil or s == '' then return nil end
  return tonumber(s)
end

-- The UTC day of an epoch second as yyyy-mm-dd (Howard Hinnant's civil_from_days), so the
-- budget's spend key is chosen on Redis' clock like everything else.
local function utc_day(sec)
  local z = math.floor(sec / 86400) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02d', y, m, d)
end

-- Continuous refill: a bucket of capacity cap refilling rate tokens per 60 s. A missing value
-- is a full bucket (that is why idle buckets may expire). Values may be negative (a TPM charge
-- after the fact) and then refill towards cap like any other.
local function refill(stored, cap, rate, elapsed)
  local v = tonumber(stored)
  if v == nil then return cap end
  return math.min(cap, v + elapsed * rate / 60000)
end

-- Milliseconds until a bucket holding v reaches need.
local function wait_for(v, need, rate)
  if v >= need then return 0 end
  return math.ceil((need - v) * 60000 / rate)
end

-- Milliseconds until a bucket holding v is full again, after which its hash may vanish.
local function full_in(v, cap, rate)
  if v >= cap then return 0 end
  return math.ceil((cap - v) * 60000 / rate)
end

-- Reads the bucket hash and refills both buckets to now. limits = {rpm, rpm_cap, tpm, tpm_cap}.
local function load_buckets(key, now, rpm, rpm_cap, tpm, tpm_cap)
  local b = redis.call('HMGET', key, 'rpm', 'tpm', 'ts')
  local last = tonumber(b[3]) or now
  local elapsed = math.max(0, now - last)
  local r, t
  if rpm then r = refill(b[1], rpm_cap, rpm, elapsed) end
  if tpm then t = refill(b[2], tpm_cap, tpm, elapsed) end
  return r, t
end

-- Writes both buckets back with the refill time and an expiry at the moment both are full again
-- (plus a second of slack), so a key nobody uses leaves nothing behind.
local function store_buckets(key, now, rpm, rpm_cap, r, tpm, tpm_cap, t)
  local ttl = 0
  if rpm then
    redis.call('HSET', key, 'rpm', string.format('%.6f', r))
    ttl = math.max(ttl, full_in(r, rpm_cap, rpm))
  end
  if tpm then
    redis.call('HSET', key, 'tpm', string.format('%.6f', t))
    ttl = math.max(ttl, full_in(t, tpm_cap, tpm))
  end
  redis.call('HSET', key, 'ts', now)
  redis.call('PEXPIRE', key, ttl + 1000)
end

-- Drops the in-flight counts of replicas whose lease ran out (a crashed replica's slots), then
-- returns the sum of the rest. In-flight counts live in a hash (field: replica id) and the
-- leases in a sorted set (member: replica id, score: lease deadline in ms).
local function live_in_flight(inflight_key, leases_key, now, purge)
  if purge then
    local dead = redis.call('ZRANGEBYSCORE', leases_key, '-inf', now)
    if #dead > 0 then
      redis.call('HDEL', inflight_key, unpack(dead))
      redis.call('ZREMRANGEBYSCORE', leases_key, '-inf', now)
    end
  end
  local sum = 0
  local all = redis.call('HGETALL', inflight_key)
  for i = 1, #all, 2 do
    local live = purge
    if not live then
      local deadline = redis.call('ZSCORE', leases_key, all[i])
      live = deadline ~= false and tonumber(deadline) > now
    end
    if live then sum = sum + math.max(0, tonumber(all[i + 1])) end
  end
  return sum
end

-- Pushes the expiry of the concurrency structures to at least ttl from now, never nearer: a
-- replica with a shorter lease must not cut the slots of the others short.
local function keep_for(ttl, ...)
  for _, key in ipairs({...}) do
    if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  end
end
