-- Mark held orders paid (commerce/sale.py `pay`, as pay.lua), a batch in one call in the sale's slot.
-- KEYS: 1 sale hash, 2 orders hash, 3 holds zset.  ARGV: 1 the order ids, as one JSON array
-- Returns one reply per order: {"ok", order json} or {"err", code, message}.
local out = {}
local moved = 0
for i, oid in ipairs(cjson.decode(ARGV[1])) do
  local raw = redis.call('HGET', KEYS[2], oid)
  if not raw then
    out[i] = {'err', 'unknown_order', 'no such order in this sale'}
  else
    local order = cjson.decode(raw)
    if order.state == 'paid' then
      out[i] = {'ok', raw}
    elseif order.state == 'released' then
      out[i] = {'err', 'hold_expired', 'the hold expired before the payment arrived'}
    else
      order.state = 'paid'
      local encoded = cjson.encode(order)
      redis.call('HSET', KEYS[2], oid, encoded)
      redis.call('ZREM', KEYS[3], oid)
      moved = moved + order.quantity
      out[i] = {'ok', encoded}
    end
  end
end
if moved > 0 then
  redis.call('HINCRBY', KEYS[1], 'held', -moved)
  redis.call('HINCRBY', KEYS[1], 'sold', moved)
end
return out
