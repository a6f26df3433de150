-- Commit a stage decision atomically, in the show's hash slot.
-- KEYS: 1 stage hash, 2 log stream, 3 log head hash, 4 audit list, 5 control stream
-- ARGV: 1 expected version, 2 state json, 3 recreate log ("1"/"0"), 4 new epoch,
--       5 event count N, then N x (type, program_time_ms, data json), then audit count M, M x json
-- Returns {"ok", epoch, first_seq} or {"conflict"}; a conflict changes nothing.
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '-1')
if version ~= tonumber(ARGV[1]) then
  return {'conflict'}
end
redis.call('HSET', KEYS[1], 'version', version + 1, 'state', ARGV[2])

local epoch = redis.call('HGET', KEYS[3], 'epoch')
local seq = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')
local pos = tonumber(redis.call('HGET', KEYS[3], 'pos') or '0')
if ARGV[3] == '1' then
  epoch = ARGV[4]
  seq = 0
  redis.call('DEL', KEYS[2])
end

local i = 6
local first = seq + 1
for _ = 1, tonumber(ARGV[5]) do
  seq = seq + 1
  pos = pos + 1
  redis.call('XADD', KEYS[2], pos .. '-1', 'seq', seq, 'epoch', epoch,
             'type', ARGV[i], 't', ARGV[i + 1], 'data', ARGV[i + 2])
  i = i + 3
end
redis.call('HSET', KEYS[3], 'epoch', epoch, 'seq', seq, 'pos', pos)

local audits = tonumber(ARGV[i])
i = i + 1
for _ = 1, audits do
  redis.call('RPUSH', KEYS[4], ARGV[i])
  i = i + 1
end
redis.call('LTRIM', KEYS[4], -10000, -1)
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 100, '*', 'version', version + 1)
return {'ok', epoch, first}
