-- addSpend: add USD to a key's spend of one UTC day; the counter vanishes two days later.
--
-- KEYS[1] keymux:{id}:spend:yyyy-mm-dd; ARGV[1] USD (may be fractional).
-- Returns the day's total as a string (INCRBYFLOAT's answer).

local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * 86400000)
return total
