-- Insert a pending booking unless its slot is held or its drop does not fit the sponsor's budget
-- (sponsors/model.py: check_conflicts). Every key is in the slot {bookings}.
-- KEYS: bookings, slots, reserved
-- ARGV: booking id, booking JSON, slot key, sponsor id, drop budget (0: none), sponsor balance
local id, json, slot, sponsor = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local budget, balance = tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('HEXISTS', KEYS[1], id) == 1 then
  return {'err', 'booking_exists', 0}
end
if redis.call('HEXISTS', KEYS[2], slot) == 1 then
  return {'err', 'slot_taken', 0}
end
local reserved = tonumber(redis.call('HGET', KEYS[3], sponsor) or '0')
if budget > 0 and reserved + budget > balance then
  return {'err', 'insufficient_budget', reserved}
end
redis.call('HSET', KEYS[1], id, json)
redis.call('HSET', KEYS[2], slot, id)
if budget > 0 then
  redis.call('HINCRBY', KEYS[3], sponsor, budget)
end
return {'ok', '', reserved}
