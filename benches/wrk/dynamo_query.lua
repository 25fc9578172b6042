-- wrk: DynamoDB Query of one random partition of table "bench", sort key range, 10 items.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.Query"
request = function()
  local p = math.random(0, 999)
  local body = string.format(
    '{"TableName":"bench","KeyConditionExpression":"pk = :p AND sk >= :s",' ..
    '"ExpressionAttributeValues":{":p":{"S":"p%d"},":s":{"N":"0"}},"Limit":10}', p)
  return wrk.format(nil, "/", nil, body)
end
