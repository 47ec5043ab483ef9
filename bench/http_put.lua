-- wrk script: PUT a 100-byte value to a random key among `keys` in bucket `bench`.
local keys = 10000
local body = string.rep("v", 100)
request = function()
  local path = "/v1/kv/bench/key" .. math.random(0, keys - 1)
  return wrk.format("PUT", path, {["Content-Type"] = "application/octet-stream"}, body)
end
