-- wrk script: GET a random key among `keys` in bucket `bench` (written by http_put.lua).
local keys = 10000
request = function()
  return wrk.format("GET", "/v1/kv/bench/key" .. math.random(0, keys - 1))
end
