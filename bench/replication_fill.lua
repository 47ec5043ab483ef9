-- wrk script: PUT a 100-byte value to key0, key1, ... key<keys-1> in bucket `bench`, in order,
-- then wrap around. Run it with one wrk thread (-t1: all connections share this counter)
-- until at least `keys` requests completed, so every key of http_put.lua / replication_get.lua
-- exists. done() prints "fill: N requests" for the caller to check.
local keys = 10000
local body = string.rep("v", 100)
local next_key = 0
request = function()
  local path = "/v1/kv/bench/key" .. next_key .. "?w=3"
  next_key = (next_key + 1) % keys
  return wrk.format("PUT", path, {["Content-Type"] = "application/octet-stream"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("fill: %d requests, %d errors\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
