-- wrk: Riak HTTP GET of random keys of bucket "bench".
request = function()
  return wrk.format("GET", string.format("/buckets/bench/keys/k%d", math.random(0, 99999)))
end
