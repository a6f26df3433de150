-- Close a drop if it is due (redpackets/model.py `close`): window over, empty, or cancelled.
-- KEYS: 1 drop hash.  ARGV: 1 now ms.
-- Returns {status, count, next, claimed, budget} after the call.
local d = redis.call('HMGET', KEYS[1], 'status', 'closes', 'next', 'count', 'claimed', 'budget')
if not d[1] then return {'err', 'unknown_drop', 'no such drop'} end
local status = d[1]
if status ~= 'closed' and (tonumber(ARGV[1]) >= tonumber(d[2])
    or tonumber(d[3]) >= tonumber(d[4]) or status == 'cancelled') then
  status = 'closed'
  redis.call('HSET', KEYS[1], 'status', status)
end
return {status, d[4], d[3], d[5], d[6]}
