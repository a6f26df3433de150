-- Mark a held order paid (commerce/sale.py `pay`), in the sale's slot.
-- KEYS: 1 sale hash, 2 orders hash, 3 holds zset.  ARGV: 1 order id
-- Returns {"ok", order json} or {"err", code, message}.
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return {'err', 'unknown_order', 'no such order in this sale'} end
local order = cjson.decode(raw)
if order.state == 'paid' then return {'ok', raw} end
if order.state == 'released' then
  return {'err', 'hold_expired', 'the hold expired before the payment arrived'}
end
order.state = 'paid'
local encoded = cjson.encode(order)
redis.call('HSET', KEYS[2], ARGV[1], encoded)
redis.call('HINCRBY', KEYS[1], 'held', -order.quantity)
redis.call('HINCRBY', KEYS[1], 'sold', order.quantity)
redis.call('ZREM', KEYS[3], ARGV[1])
return {'ok', encoded}
