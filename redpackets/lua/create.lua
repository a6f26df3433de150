-- Create a drop with its envelopes in grabbing order (redpackets/model.py `new_drop`), once.
-- KEYS: 1 drop hash, 2 envelopes list.
-- ARGV: 1 show, 2 funder, 3 budget, 4 count, 5 min, 6 currency, 7 opens ms, 8 closes ms,
--       9 the envelopes as one comma-separated string
-- Returns 1 when it created the drop, 0 when it existed.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'show', ARGV[1], 'funder', ARGV[2], 'budget', ARGV[3],
           'count', ARGV[4], 'min', ARGV[5], 'currency', ARGV[6], 'opens', ARGV[7],
           'closes', ARGV[8], 'status', 'pending', 'next', 0, 'claimed', 0)
local chunk = {}
for amount in string.gmatch(ARGV[9], '[^,]+') do
  table.insert(chunk, amount)
  if #chunk == 1000 then
    redis.call('RPUSH', KEYS[2], unpack(chunk))
    chunk = {}
  end
end
if #chunk > 0 then redis.call('RPUSH', KEYS[2], unpack(chunk)) end
return 1
