-- wrk: DynamoDB GetItem of random keys of table "bench".
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
request = function()
  local i = math.random(0, 99999)
  local body = string.format('{"TableName":"bench","Key":{"pk":{"S":"p%d"},"sk":{"N":"%d"}}}', i % 1000, i)
  return wrk.format(nil, "/", nil, body)
end
