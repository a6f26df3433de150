-- The credit leg of a transfer, in the destination account's slot; idempotent by transfer id.
-- KEYS: 1 balance, 2 applied legs set.  ARGV: 1 transfer id, 2 amount
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'ok' end
redis.call('INCRBY', KEYS[1], tonumber(ARGV[2]))
redis.call('SADD', KEYS[2], ARGV[1])
return 'ok'
