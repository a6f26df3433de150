-- Grab the next envelope of a drop for each viewer of a batch, in turn (redpackets/model.py
-- `grab`, as grab.lua), in one call in the drop's slot.
-- KEYS: 1 drop hash, 2 envelopes list, 3 claims hash (viewer -> "index:amount"),
--       4 uncredited set.  ARGV: 1 now ms, 2 the viewer ids, as one JSON array
-- Returns one reply per viewer: {"ok", "index:amount"}, {"already", "index:amount"} or
-- {"err", code, message}.
local out = {}
local d = redis.call('HMGET', KEYS[1], 'status', 'opens', 'closes', 'next', 'count')
local now = tonumber(ARGV[1])
local index, count = tonumber(d[4] or '0'), tonumber(d[5] or '0')
local claimed = 0
local viewers = cjson.decode(ARGV[2])
for n = 1, #viewers do
  local viewer, i = viewers[n], n + 1
  local known = redis.call('HGET', KEYS[3], viewer)
  if known then
    out[i - 1] = {'already', known}
  elseif not d[1] then
    out[i - 1] = {'err', 'unknown_drop', 'no such drop'}
  elseif d[1] == 'cancelled' then
    out[i - 1] = {'err', 'drop_cancelled', 'this drop was cancelled'}
  elseif index >= count then
    out[i - 1] = {'err', 'empty', 'every envelope of this drop has been grabbed'}
  elseif d[1] == 'closed' or now >= tonumber(d[3]) then
    out[i - 1] = {'err', 'closed', 'this drop has closed'}
  elseif d[1] == 'pending' or now < tonumber(d[2]) then
    out[i - 1] = {'err', 'not_open', 'this drop has not opened yet'}
  else
    local amount = redis.call('LINDEX', KEYS[2], index)
    local claim = index .. ':' .. amount
    redis.call('HSET', KEYS[3], viewer, claim)
    redis.call('SADD', KEYS[4], viewer)
    index = index + 1
    claimed = claimed + tonumber(amount)
    out[i - 1] = {'ok', claim}
  end
end
if claimed > 0 then
  redis.call('HSET', KEYS[1], 'next', index)
  redis.call('HINCRBY', KEYS[1], 'claimed', claimed)
end
return out
