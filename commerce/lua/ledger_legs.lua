-- The legs of several transfers on ONE account, in its slot; each leg idempotent by transfer id.
-- KEYS: 1 balance, 2 applied legs set.
-- ARGV: 1 "debit" or "credit", 2 guarded ("1": a debit never takes the balance below zero),
--       then pairs: transfer id, amount.
-- Returns one status per leg ("ok": applied now or before; "insufficient_funds": a guarded
-- debit refused, nothing changed), then the balance after every leg.
local balance = tonumber(redis.call('GET', KEYS[1]) or '0')
local debit, guarded = ARGV[1] == 'debit', ARGV[2] == '1'
local out = {}
for i = 3, #ARGV, 2 do
  local id, amount = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('SISMEMBER', KEYS[2], id) == 1 then
    out[#out + 1] = 'ok'
  elseif debit and guarded and balance < amount then
    out[#out + 1] = 'insufficient_funds'
  else
    if debit then balance = balance - amount else balance = balance + amount end
    redis.call('SADD', KEYS[2], id)
    out[#out + 1] = 'ok'
  end
end
redis.call('SET', KEYS[1], balance)
out[#out + 1] = tostring(balance)
return out
