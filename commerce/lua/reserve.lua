-- Reserve units of a flash sale, in the sale's slot. The rules are commerce/sale.py `reserve`'s,
-- repeated here because Redis must check and take the stock in one atomic step: same checks, same
-- order, same codes. tests/contract/test_sale_store.py holds this script and the SQLite store
-- (which runs sale.py itself) to the pure model, rule by rule.
-- KEYS: 1 sale hash (terms + counters), 2 orders hash, 3 keys hash, 4 taken hash, 5 holds zset,
--       6 orders by viewer hash
-- ARGV: 1 order id, 2 viewer id, 3 idempotency key, 4 quantity, 5 now ms
-- Returns {"ok", order json} or {"err", code, message}.
local known = redis.call('HGET', KEYS[3], ARGV[2] .. '|' .. ARGV[3])
if known then
  local order = redis.call('HGET', KEYS[2], known)
  if cjson.decode(order).quantity ~= tonumber(ARGV[4]) then
    return {'err', 'idempotency_mismatch', 'this idempotency key was used for another quantity'}
  end
  return {'ok', order}
end
local s = redis.call('HMGET', KEYS[1], 'status', 'left', 'held', 'price', 'limit', 'opens',
                     'closes', 'hold_ms')
if not s[1] then return {'err', 'unknown_sale', 'no such sale'} end
local left, held, price, limit = tonumber(s[2]), tonumber(s[3]), tonumber(s[4]), tonumber(s[5])
local qty, now = tonumber(ARGV[4]), tonumber(ARGV[5])
if qty < 1 or qty > limit then
  return {'err', 'bad_quantity', 'quantity must be a whole number from 1 to ' .. limit}
end
if s[1] == 'closed' or (s[7] ~= '' and now >= tonumber(s[7])) then
  return {'err', 'sale_closed', 'this sale has closed'}
end
if s[1] ~= 'open' or now < tonumber(s[6]) then
  return {'err', 'sale_not_open', 'this sale has not opened yet'}
end
if left == 0 then return {'err', 'sold_out', 'sold out'} end
if qty > left then return {'err', 'not_enough_stock', 'only ' .. left .. ' left'} end
local taken = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0')
if taken + qty > limit then
  return {'err', 'limit_reached', 'the limit is ' .. limit .. ' per viewer; you have ' .. taken}
end
local expires = now + tonumber(s[8])
local order = cjson.encode({id = ARGV[1], viewer_id = ARGV[2], key = ARGV[3], quantity = qty,
                            amount_minor = qty * price, state = 'held', expires_at_ms = expires})
redis.call('HSET', KEYS[1], 'left', left - qty, 'held', held + qty)
redis.call('HSET', KEYS[2], ARGV[1], order)
redis.call('HSET', KEYS[3], ARGV[2] .. '|' .. ARGV[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[2], taken + qty)
redis.call('ZADD', KEYS[5], expires, ARGV[1])
local mine = redis.call('HGET', KEYS[6], ARGV[2])
redis.call('HSET', KEYS[6], ARGV[2], mine and (mine .. ',' .. ARGV[1]) or ARGV[1])
return {'ok', order}
