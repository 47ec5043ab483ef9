-- wrk script: a body-less request (GET by default, or MERIDIAN_BENCH_METHOD=DELETE) to a random
-- key among `keys` in bucket `bench` (written by replication_fill.lua / http_put.lua), with an
-- optional query string, e.g. MERIDIAN_BENCH_QUERY="?r=3" or "?w=2".
local keys = 10000
local method = os.getenv("MERIDIAN_BENCH_METHOD") or "GET"
local query = os.getenv("MERIDIAN_BENCH_QUERY") or ""
request = function()
  return wrk.format(method, "/v1/kv/bench/key" .. math.random(0, keys - 1) .. query)
end
