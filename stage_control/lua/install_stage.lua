-- Create a show's stage state and empty log if they do not exist yet (idempotent).
-- KEYS: 1 stage hash, 2 log head hash
-- ARGV: 1 initial state json, 2 epoch
-- Returns 1 when created, 0 when the show was already installed.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'version', 0, 'state', ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'epoch', ARGV[2], 'seq', 0, 'pos', 0)
end
return 1
