-- Grab the next envelope of a drop for a viewer (redpackets/model.py `grab`), in its slot.
-- KEYS: 1 drop hash, 2 envelopes list, 3 claims hash (viewer -> "index:amount"),
--       4 uncredited set.  ARGV: 1 viewer id, 2 now ms
-- Returns {"ok", "index:amount"}, {"already", "index:amount"} or {"err", code, message}.
local known = redis.call('HGET', KEYS[3], ARGV[1])
if known then return {'already', known} end
local d = redis.call('HMGET', KEYS[1], 'status', 'opens', 'closes', 'next', 'count')
if not d[1] then return {'err', 'unknown_drop', 'no such drop'} end
local now = tonumber(ARGV[2])
if d[1] == 'cancelled' then return {'err', 'drop_cancelled', 'this drop was cancelled'} end
local index = tonumber(d[4])
if index >= tonumber(d[5]) then
  return {'err', 'empty', 'every envelope of this drop has been grabbed'}
end
if d[1] == 'closed' or now >= tonumber(d[3]) then
  return {'err', 'closed', 'this drop has closed'}
end
if d[1] == 'pending' or now < tonumber(d[2]) then
  return {'err', 'not_open', 'this drop has not opened yet'}
end
local amount = redis.call('LINDEX', KEYS[2], index)
local claim = index .. ':' .. amount
redis.call('HSET', KEYS[3], ARGV[1], claim)
redis.call('HSET', KEYS[1], 'next', index + 1)
redis.call('HINCRBY', KEYS[1], 'claimed', amount)
redis.call('SADD', KEYS[4], ARGV[1])
return {'ok', claim}
