-- Release every hold that is over (commerce/sale.py `expire`), each exactly once.
-- KEYS: 1 sale hash, 2 orders hash, 3 taken hash, 4 holds zset.  ARGV: 1 now ms
-- Returns the released orders as json strings.
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])
local released = {}
for _, id in ipairs(due) do
  local order = cjson.decode(redis.call('HGET', KEYS[2], id))
  if order.state == 'held' then
    order.state = 'released'
    local encoded = cjson.encode(order)
    redis.call('HSET', KEYS[2], id, encoded)
    redis.call('HINCRBY', KEYS[1], 'left', order.quantity)
    redis.call('HINCRBY', KEYS[1], 'held', -order.quantity)
    redis.call('HINCRBY', KEYS[3], order.viewer_id, -order.quantity)
    table.insert(released, encoded)
  end
  redis.call('ZREM', KEYS[4], id)
end
return released
