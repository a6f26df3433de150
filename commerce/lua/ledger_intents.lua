-- Log the intents of transfers about to run (step 1 of the ledger's saga), in the intents hash's
-- slot. KEYS: 1 intents hash.  ARGV: 1 a JSON array of [transfer id, its JSON].
-- Returns per transfer: 1 logged now, 0 logged before with the same content, -1 logged before
-- with other content (a mismatch: nothing changed).
local out = {}
for _, intent in ipairs(cjson.decode(ARGV[1])) do
  local known = redis.call('HGET', KEYS[1], intent[1])
  if not known then
    redis.call('HSET', KEYS[1], intent[1], intent[2])
    out[#out + 1] = 1
  elseif known == intent[2] then
    out[#out + 1] = 0
  else
    out[#out + 1] = -1
  end
end
return out
