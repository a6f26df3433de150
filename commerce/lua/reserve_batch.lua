-- Reserve units for a batch of wallet taps on one flash sale, in the sale's slot, each tap in turn
-- and each atomically (the whole script is one atomic step). The rules are commerce/sale.py
-- `reserve`'s, then the wallet check of gala/stores/sqlite_taps.py `_buy_batch`, before any
-- write: same checks, same order, same codes; tests/contract/test_tap_batches.py holds both stores to them.
-- KEYS: 1 sale hash (terms + counters), 2 orders hash, 3 keys hash, 4 taken hash, 5 holds zset,
--       6 orders by viewer hash
-- ARGV: 1 now ms, 2 the taps as one JSON array (one argument, so the client packs one string,
--       not five per tap), each [order id, viewer id, idempotency key, quantity, the viewer's
--       wallet balance read before the batch (the script spends it as it reserves)]
-- Returns one reply per tap: {"ok", order json} or {"err", code, message}.
local s = redis.call('HMGET', KEYS[1], 'status', 'left', 'held', 'price', 'limit', 'opens',
                     'closes', 'hold_ms')
local taps = cjson.decode(ARGV[2])
local n = #taps
local out = {}
if not s[1] then
  for i = 1, n do out[i] = {'err', 'unknown_sale', 'no such sale'} end
  return out
end
local left, held, price, limit = tonumber(s[2]), tonumber(s[3]), tonumber(s[4]), tonumber(s[5])
local now = tonumber(ARGV[1])
local closed = s[1] == 'closed' or (s[7] ~= '' and now >= tonumber(s[7]))
local not_open = s[1] ~= 'open' or now < tonumber(s[6])
local spent = {}
for i = 1, n do
  local tap = taps[i]
  local oid, viewer, key, qty, funds = tap[1], tap[2], tap[3], tap[4], tap[5]
  local known = redis.call('HGET', KEYS[3], viewer .. '|' .. key)
  if known then
    local order = redis.call('HGET', KEYS[2], known)
    if known ~= oid then
      out[i] = {'err', 'idempotency_mismatch',
                'this idempotency key was used with another payment method'}
    elseif cjson.decode(order).quantity ~= qty then
      out[i] = {'err', 'idempotency_mismatch', 'this idempotency key was used for another quantity'}
    else
      out[i] = {'ok', order}
    end
  elseif qty < 1 or qty > limit then
    out[i] = {'err', 'bad_quantity', 'quantity must be a whole number from 1 to ' .. limit}
  elseif closed then
    out[i] = {'err', 'sale_closed', 'this sale has closed'}
  elseif not_open then
    out[i] = {'err', 'sale_not_open', 'this sale has not opened yet'}
  elseif left == 0 then
    out[i] = {'err', 'sold_out', 'sold out'}
  elseif qty > left then
    out[i] = {'err', 'not_enough_stock', 'only ' .. left .. ' left'}
  else
    local taken = tonumber(redis.call('HGET', KEYS[4], viewer) or '0')
    if taken + qty > limit then
      out[i] = {'err', 'limit_reached',
                'the limit is ' .. limit .. ' per viewer; you have ' .. taken}
    elseif qty * price > funds - (spent[viewer] or 0) then
      out[i] = {'err', 'insufficient_funds', 'your wallet does not hold enough for this order'}
    else
      local expires = now + tonumber(s[8])
      local order = cjson.encode({id = oid, viewer_id = viewer, key = key, quantity = qty,
                                  amount_minor = qty * price, state = 'held',
                                  expires_at_ms = expires})
      left, held = left - qty, held + qty
      spent[viewer] = (spent[viewer] or 0) + qty * price
      redis.call('HSET', KEYS[2], oid, order)
      redis.call('HSET', KEYS[3], viewer .. '|' .. key, oid)
      redis.call('HSET', KEYS[4], viewer, taken + qty)
      redis.call('ZADD', KEYS[5], expires, oid)
      local mine = redis.call('HGET', KEYS[6], viewer)
      redis.call('HSET', KEYS[6], viewer, mine and (mine .. ',' .. oid) or oid)
      out[i] = {'ok', order}
    end
  end
end
redis.call('HSET', KEYS[1], 'left', left, 'held', held)
return out
