-- Compare-and-set a booking; a booking that stops holding releases its slot and reservation.
-- Every key is in the slot {bookings}.
-- KEYS: bookings, slots, reserved
-- ARGV: booking id, expected JSON, new JSON, release (1/0), slot key, sponsor id, drop budget
local id = ARGV[1]
if redis.call('HGET', KEYS[1], id) ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], id, ARGV[3])
if ARGV[4] == '1' then
  if redis.call('HGET', KEYS[2], ARGV[5]) == id then
    redis.call('HDEL', KEYS[2], ARGV[5])
  end
  local budget = tonumber(ARGV[7])
  if budget > 0 then
    redis.call('HINCRBY', KEYS[3], ARGV[6], -budget)
  end
end
return 1
