-- settle: apply one lease's effect (KeyRule's KeyEffect, computed once in Java and applied here
-- and by the local KeySlot alike) to a key's shared state, in one round trip.
--
-- KEYS[1] bucket, KEYS[2] inflight, KEYS[3] leases, KEYS[4] cooldown, KEYS[5] circuit,
-- KEYS[6] probe, KEYS[7] disabled, KEYS[8] usage, KEYS[9] model bucket, KEYS[10] model
-- cooldown, KEYS[11] quota, KEYS[12] disabled probe, KEYS[13] enabled counter (as in try_take.lua)
-- ARGV, by name (named_args): rpm, rpm_cap, tpm, tpm_cap ('' = unlimited),
--   token_refund (reservation minus use; negative is a charge), refund_request (1/0),
--   release_slot (release the concurrency slot, 1/0), replica (this replica's id),
--   lease_ttl_ms, cooldown_ms (0 = none), verdict (none/success/failure), probe (the lease was
--   the half-open probe, 1/0), failure_threshold, circuit_cooldown_ms,
--   disable_credential (disable with this credential fingerprint; '' = no), cost_usd,
--   spend_prefix, used_tokens (for usage), usage_slot_ms (usage slot width),
--   model_rpm, model_tpm (the models bucket; '' = unlimited, both '' = no models bucket),
--   model_cooldown (the cooldown is the models bucket's only, 1/0),
--   quota (a probe interval in ms puts the key in quota_exhausted, 'clear' ends it and a disabled
--   mark: the account answered; '' leaves it), disabled_probe_ms (for a settle that disables the
--   key; '' = off)
-- Returns the replica's remaining in-flight count on the key.

local a = named_args()
local now, sec = now_ms()
local rpm, tpm = opt(a.rpm), opt(a.tpm)
local rpm_cap, tpm_cap = opt(a.rpm_cap) or rpm, opt(a.tpm_cap) or tpm
local refund, refund_request = tonumber(a.token_refund), a.refund_request == '1'
local release_slot = a.release_slot == '1'
local replica, lease_ttl = a.replica, tonumber(a.lease_ttl_ms)
local cooldown_ms, verdict, probe = tonumber(a.cooldown_ms), a.verdict, a.probe == '1'
local threshold, circuit_ms = tonumber(a.failure_threshold), tonumber(a.circuit_cooldown_ms)
local disable_credential = a.disable_credential
local cost_usd, spend_prefix = a.cost_usd, a.spend_prefix
local used, width = tonumber(a.used_tokens), tonumber(a.usage_slot_ms)
local m_rpm, m_tpm, model_cooldown = opt(a.model_rpm), opt(a.model_tpm), a.model_cooldown == '1'
local quota, disabled_probe = a.quota, opt(a.disabled_probe_ms)
local day = 86400000

-- Buckets: a refund is capped at the capacity; a charge may take the bucket below zero, which
-- later requests then wait out. Both refill first because they share one timestamp.
if (tpm and refund ~= 0) or (rpm and refund_request) then
  local r, t = load_buckets(KEYS[1], now, rpm, rpm_cap, tpm, tpm_cap)
  if rpm and refund_request then r = math.min(rpm_cap, r + 1) end
  if tpm then t = math.min(tpm_cap, t + refund) end
  store_buckets(KEYS[1], now, rpm, rpm_cap, r, tpm, tpm_cap, t)
end

if (m_rpm or m_tpm) and ((m_tpm and refund ~= 0) or (m_rpm and refund_request)) then
  local mr, mt = load_buckets(KEYS[9], now, m_rpm, m_rpm, m_tpm, m_tpm)
  if m_rpm and refund_request then mr = math.min(m_rpm, mr + 1) end
  if m_tpm then mt = math.min(m_tpm, mt + refund) end
  store_buckets(KEYS[9], now, m_rpm, m_rpm, mr, m_tpm, m_tpm, mt)
end

-- Usage of the last minute across replicas, in slots of usage_slot_ms (read by snapshot.lua).
local slot = math.floor(now / width)
if refund_request then redis.call('HINCRBY', KEYS[8], 'r' .. slot, -1) end
if used ~= 0 then redis.call('HINCRBY', KEYS[8], 't' .. slot, used) end
if refund_request or used ~= 0 then redis.call('PEXPIRE', KEYS[8], 7 * width) end

-- Cooldown: later, never earlier.
if cooldown_ms > 0 then
  local target = KEYS[4]
  if model_cooldown and (m_rpm or m_tpm) then target = KEYS[10] end
  local wanted = now + cooldown_ms
  local current = tonumber(redis.call('GET', target) or '0')
  if wanted > current then redis.call('SET', target, wanted, 'PXAT', wanted) end
end

-- quota_exhausted: skipped until the next probe time; an answer from the account ends it.
if quota == 'clear' then
  -- The account answered with this credential: it works, so a quota_exhausted or disabled mark
  -- goes, and the counter tells every replica to drop its own copy of that state.
  if redis.call('DEL', KEYS[11], KEYS[7], KEYS[12]) > 0 then
    redis.call('INCR', KEYS[13])
  end
elseif quota ~= '' then
  local next_probe = now + tonumber(quota)
  redis.call('SET', KEYS[11], next_probe, 'PXAT', next_probe + 86400000)
end

-- Circuit: Circuit.next in KeyRule's terms. Only the probe's verdict moves an open circuit.
local c = redis.call('HMGET', KEYS[5], 'fails', 'open_until')
local fails, open_until = tonumber(c[1]) or 0, tonumber(c[2]) or 0
local function open_at(t, cd)
  redis.call('HSET', KEYS[5], 'fails', 0, 'open_until', t, 'cooldown_ms', cd)
  redis.call('PEXPIRE', KEYS[5], cd + day)
  redis.call('DEL', KEYS[6])
end
if probe then
  if verdict == 'success' then
    redis.call('DEL', KEYS[5], KEYS[6])
  elseif verdict == 'failure' then
    open_at(now + circuit_ms, circuit_ms)
  else
    -- The probe proved nothing: the next request may probe at once.
    open_at(now, circuit_ms)
  end
elseif open_until == 0 then
  if verdict == 'success' and fails > 0 then
    redis.call('DEL', KEYS[5])
  elseif verdict == 'failure' then
    if fails + 1 >= threshold then
      open_at(now + circuit_ms, circuit_ms)
    else
      redis.call('HSET', KEYS[5], 'fails', fails + 1)
      redis.call('PEXPIRE', KEYS[5], day)
    end
  end
end

-- Disabled until the key's credential (secret or upstream) changes: the mark holds the
-- fingerprint of the credential that was refused, and try_take drops a mark of another one.
if disable_credential ~= '' then
  redis.call('SET', KEYS[7], disable_credential)
  if disabled_probe then
    local next_probe = now + disabled_probe
    redis.call('SET', KEYS[12], next_probe, 'PXAT', next_probe + day)
  end
end

-- The cost goes to INCRBYFLOAT as the caller wrote it, never through a Lua number.
if tonumber(cost_usd) ~= 0 then
  local spend_key = spend_prefix .. utc_day(sec)
  redis.call('INCRBYFLOAT', spend_key, cost_usd)
  redis.call('PEXPIRE', spend_key, 2 * day)
end

local left = 0
if release_slot then
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
