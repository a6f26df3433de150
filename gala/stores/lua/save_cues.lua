-- Replace a show's edited cue tables if the version is still the expected one (compare-and-set).
-- KEYS: 1 the show's run-of-show hash (in its {show:ID} slot).  ARGV: 1 expected version, 2 cues
-- Returns 1 when saved, 0 when the version moved.
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', version + 1, 'cues', ARGV[2])
return 1
