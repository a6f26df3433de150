-- A pending drop goes live once funded, or is cancelled (redpackets/model.py `activate`).
-- KEYS: 1 drop hash.  ARGV: 1 funded ("1"/"0").  Returns the status after the call.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'err', 'unknown_drop', 'no such drop'} end
if status == 'pending' then
  status = ARGV[1] == '1' and 'live' or 'cancelled'
  redis.call('HSET', KEYS[1], 'status', status)
end
return {'ok', status}
