-- tryTake: one atomic admission decision for one upstream key; takes everything or nothing.
--
-- KEYS[1] keymux:{id}:bucket    hash rpm, tpm (tokens left, fractional), ts (last refill, ms)
-- KEYS[2] keymux:{id}:inflight  hash replica id -> requests in flight
-- KEYS[3] keymux:{id}:leases    zset replica id -> lease deadline (ms)
-- KEYS[4] keymux:{id}:cooldown  string: deadline (epoch ms), PEXPIREAT at the deadline
-- KEYS[5] keymux:{id}:circuit   hash fails, open_until (ms), cooldown_ms
-- KEYS[6] keymux:{id}:probe     string: the replica holding the half-open probe, PX cooldown_ms
-- KEYS[7] keymux:{id}:disabled  string: the fingerprint of the credential the upstream refused
-- KEYS[8] keymux:{id}:usage     hash r<slot>/t<slot> -> requests/tokens in that slot (admin view)
-- KEYS[9] keymux:{id}:model:<pattern>:bucket    the request's models bucket (hash as KEYS[1])
-- KEYS[10] keymux:{id}:model:<pattern>:cooldown that bucket's cooldown after a 429 naming the model
-- KEYS[11] keymux:{id}:quota     string: quota_exhausted, the next probe's time (epoch ms)
-- KEYS[12] keymux:{id}:disabled_probe string: a disabled key's next probe time (epoch ms)
-- KEYS[13] keymux:{id}:enabled   counter: bumped when the key is enabled (admin) or its probe restored it
-- ARGV, by name (named_args): rpm, rpm_cap, tpm, tpm_cap, max_concurrent, daily_budget_usd
--   ('' = unlimited), tokens (to reserve), replica (this replica's id), lease_ttl_ms,
--   concurrency_retry_ms (retry-after of a concurrency denial), spend_prefix
--   (keymux:{id}:spend:), credential (the fingerprint of the key's credential now),
--   usage_slot_ms (usage slot width), expires_at (when the caller stops waiting for the answer,
--   on Redis' clock, ms; '' = unknown), model_rpm, model_tpm (the models bucket; '' = unlimited,
--   both '' = no models bucket), quota_probe_ms, disabled_probe_ms ('' = off: never probed)
-- The spend key is derived here from Redis' UTC day; it carries the same {id} hash tag, so it
-- lives in the same cluster slot as the declared keys.
--
-- Returns {1, '', 0, probe} when granted (probe = 1 for the one request let through a
-- half-open circuit) or {0, reason, retry_after_ms, 0} when denied. Checks run from the most
-- lasting state to the most fleeting; nothing is written unless everything passes.

local a = named_args()
local now, sec = now_ms()
local rpm, tpm = opt(a.rpm), opt(a.tpm)
local rpm_cap, tpm_cap = opt(a.rpm_cap) or rpm, opt(a.tpm_cap) or tpm
local max_conc, budget = opt(a.max_concurrent), opt(a.daily_budget_usd)
local tokens = tonumber(a.tokens)
local replica, lease_ttl, conc_retry = a.replica, tonumber(a.lease_ttl_ms), tonumber(a.concurrency_retry_ms)
local spend_prefix, credential, width = a.spend_prefix, a.credential, tonumber(a.usage_slot_ms)
local expires = opt(a.expires_at)
local m_rpm, m_tpm = opt(a.model_rpm), opt(a.model_tpm)
local quota_probe, disabled_probe_every = tonumber(a.quota_probe_ms), opt(a.disabled_probe_ms)

-- A take that runs after its caller timed out would hold a request token and a concurrency slot
-- nobody settles: it takes nothing (the caller has asked again, or given up).
if expires and now > expires then
  return {0, 'expired', 0, 0}
end

-- Disabled: skipped until the next probe time (never with disabled_probe off); then this request
-- is the one probe, and the next probe time moves on at once (on grant) so no other replica
-- probes meanwhile. An answer from the account (settle) ends it.
local disabled_probe = nil
local disabled = redis.call('GET', KEYS[7])
if disabled then
  if disabled == credential then
    disabled_probe = disabled_probe_every
    if not disabled_probe then
      return {0, 'disabled', 0, 0}
    end
    local probe_at = tonumber(redis.call('GET', KEYS[12]) or '0')
    if probe_at > now then
      return {0, 'disabled', probe_at - now, 0}
    end
  else
    -- Refused with another secret or upstream: the rotation re-enables the key everywhere.
    redis.call('DEL', KEYS[7], KEYS[12])
  end
end

-- Out of quota: skipped until the next probe time; then this request is the one probe, and the
-- next probe time moves on at once (on grant) so no other replica probes meanwhile.
local quota = tonumber(redis.call('GET', KEYS[11]) or '0')
if quota > now then
  return {0, 'quota_exhausted', quota - now, 0}
end

if budget then
  local spent = tonumber(redis.call('GET', spend_prefix .. utc_day(sec)) or '0')
  if spent >= budget then
    return {0, 'budget_exhausted', 86400000 - now % 86400000, 0}
  end
end

local cooldown = tonumber(redis.call('GET', KEYS[4]) or '0')
if cooldown > now then
  return {0, 'cooling_down', cooldown - now, 0}
end

if m_rpm or m_tpm then
  local m_cooldown = tonumber(redis.call('GET', KEYS[10]) or '0')
  if m_cooldown > now then
    return {0, 'cooling_down', m_cooldown - now, 0}
  end
end

local probe = 0
local circuit = redis.call('HMGET', KEYS[5], 'open_until', 'cooldown_ms')
local open_until = tonumber(circuit[1]) or 0
if open_until > 0 then
  if now < open_until then
    return {0, 'circuit_open', open_until - now, 0}
  end
  -- Half-open: one probe at a time across all replicas; the probe key expires so a probe lost
  -- with its replica does not keep the circuit half-open for ever.
  local pttl = redis.call('PTTL', KEYS[6])
  if pttl ~= -2 then
    return {0, 'circuit_open', math.max(pttl, conc_retry), 0}
  end
  probe = 1
end

local in_flight = live_in_flight(KEYS[2], KEYS[3], now, true)
if max_conc and in_flight >= max_conc then
  return {0, 'concurrency', conc_retry, 0}
end

local r, t = load_buckets(KEYS[1], now, rpm, rpm_cap, tpm, tpm_cap)
if rpm and r < 1 then
  return {0, 'rate_limited', wait_for(r, 1, rpm), 0}
end
-- A request larger than the whole TPM capacity is let through once the bucket is full (it then
-- owes the rest), otherwise it could never pass.
local need = tpm and math.min(tokens, tpm_cap) or 0
if tpm and t < need then
  return {0, 'rate_limited', wait_for(t, need, tpm), 0}
end

-- The models bucket, within the key-wide ones (capacity = its rate; no separate burst).
local mr, mt
if m_rpm or m_tpm then
  mr, mt = load_buckets(KEYS[9], now, m_rpm, m_rpm, m_tpm, m_tpm)
  if m_rpm and mr < 1 then
    return {0, 'rate_limited', wait_for(mr, 1, m_rpm), 0}
  end
  local m_need = m_tpm and math.min(tokens, m_tpm) or 0
  if m_tpm and mt < m_need then
    return {0, 'rate_limited', wait_for(mt, m_need, m_tpm), 0}
  end
end

if rpm or tpm then
  store_buckets(KEYS[1], now, rpm, rpm_cap, rpm and (r - 1), tpm, tpm_cap, tpm and (t - tokens))
end
if m_rpm or m_tpm then
  store_buckets(KEYS[9], now, m_rpm, m_rpm, m_rpm and (mr - 1), m_tpm, m_tpm, m_tpm and (mt - tokens))
end
if disabled_probe then
  local next_probe = now + disabled_probe
  redis.call('SET', KEYS[12], next_probe, 'PXAT', next_probe + 86400000)
end
if quota > 0 then
  local next_probe = now + quota_probe
  redis.call('SET', KEYS[11], next_probe, 'PXAT', next_probe + 86400000)
end
redis.call('HINCRBY', KEYS[2], replica, 1)
redis.call('ZADD', KEYS[3], now + lease_ttl, replica)
keep_for(lease_ttl, KEYS[2], KEYS[3])
local slot = math.floor(now / width)
redis.call('HINCRBY', KEYS[8], 'r' .. slot, 1)
-- Slots older than the last minute go (those of a minute with no take vanish with the hash).
redis.call('HDEL', KEYS[8], 'r' .. (slot - 7), 't' .. (slot - 7), 'r' .. (slot - 8), 't' .. (slot - 8))
redis.call('PEXPIRE', KEYS[8], 7 * width)
if probe == 1 then
  redis.call('SET', KEYS[6], replica, 'PX', math.max(1000, tonumber(circuit[2]) or 1000))
end
return {1, '', 0, probe}
