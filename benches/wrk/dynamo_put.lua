-- wrk: DynamoDB PutItem of random items into table "bench" (pk: 1,000 partitions, sk: number).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.PutItem"
local pad = string.rep("x", 100)
request = function()
  local i = math.random(0, 99999)
  local body = string.format(
    '{"TableName":"bench","Item":{"pk":{"S":"p%d"},"sk":{"N":"%d"},"v":{"S":"%s"}}}',
    i % 1000, i, pad)
  return wrk.format(nil, "/", nil, body)
end
