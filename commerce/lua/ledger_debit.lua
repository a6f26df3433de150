-- The debit leg of a transfer, in the source account's slot; idempotent by transfer id.
-- KEYS: 1 balance, 2 applied legs set.  ARGV: 1 transfer id, 2 amount, 3 guarded ("1"/"0")
-- Returns "ok" (now or before) or "insufficient_funds" (nothing changed).
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'ok' end
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[2])
if ARGV[3] == '1' and balance < amount then return 'insufficient_funds' end
redis.call('DECRBY', KEYS[1], amount)
redis.call('SADD', KEYS[2], ARGV[1])
return 'ok'
