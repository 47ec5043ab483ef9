-- wrk script: PUT a 100-byte value to a random key among `keys` in bucket `bench`.
local keys = 10000
local body = string.rep("v", 100)
-- e.g. MERIDIAN_BENCH_QUERY="?dw=1" for durable (fsynced) writes
local query = os.getenv("MERIDIAN_BENCH_QUERY") or ""
request = function()
  local path = "/v1/kv/bench/key" .. math.random(0, keys - 1) .. query
  return wrk.format("PUT", path, {["Content-Type"] = "application/octet-stream"}, body)
end
