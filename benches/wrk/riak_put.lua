-- wrk: Riak HTTP PUT of random keys into bucket "bench" (100-byte values).
wrk.method = "PUT"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = string.rep("x", 100)
request = function()
  return wrk.format(nil, string.format("/buckets/bench/keys/k%d", math.random(0, 99999)))
end
