#!/usr/bin/env bash
# Benchmarks shale serve's HTTP front ends with wrk on loopback: DynamoDB PutItem,
# GetItem and Query, Riak PUT and GET; and, where `moto_server` is installed
# (`pip install "moto[server]"`), the same DynamoDB load against moto as a reference.
# Writes docs/benchmarks/http_frontends.{csv,md}.
#
#   benches/http_frontends.sh             # 15 s per load, 2 threads, 32 connections
#
# Environment: SECS (default 15), CONNS (default 32), OUT (default docs/benchmarks),
# BIN (a `shale` binary instead of building one), CARGO_TARGET_DIR (default
# /tmp/target-bench). Needs scripts/install-bench-deps.sh (wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-15}
CONNS=${CONNS:-32}
OUT=${OUT:-docs/benchmarks}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/target-bench}
bash scripts/install-bench-deps.sh
if [[ -z "${BIN:-}" ]]; then
    nice -n 10 cargo build -p shale-cli --release >&2
    BIN="$CARGO_TARGET_DIR/release/shale"
fi
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/shale-http.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

CSV="$OUT/http_frontends.csv"
echo "server,workload,requests_per_sec,p50_ms,p99_ms,errors" > "$CSV"

# wrk --latency prints "Requests/sec: N", "50% 1.23ms" ... "99% 4.56ms", and
# "Non-2xx or 3xx responses: N" when some failed.
load() { # server workload url script
    local out
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "benches/wrk/$4" "$3")
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    echo "$1,$2,$rps,$p50,$p99,${errs:-0}" >> "$CSV"
    echo "$1 $2: $rps req/s, p50 $p50, p99 $p99, non-2xx ${errs:-0}" >&2
}

create_table() { # url
    curl -s -o /dev/null -w '%{http_code}\n' -X POST "$1" \
        -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.CreateTable' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        -d '{"TableName":"bench","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"N"}],"BillingMode":"PAY_PER_REQUEST"}' >&2
}

dynamo_loads() { # server url
    create_table "$2"
    load "$1" PutItem "$2" dynamo_put.lua
    load "$1" GetItem "$2" dynamo_get.lua
    load "$1" Query "$2" dynamo_query.lua
}

dport=$(free_port); rport=$(free_port)
"$BIN" --db "$WORK/shale" serve --protocols dynamo,riak --dynamo "127.0.0.1:$dport" \
    --riak "127.0.0.1:$rport" > "$WORK/shale.out" 2> "$WORK/shale.log" &
PIDS+=($!); wait_port "$dport"; wait_port "$rport"
dynamo_loads shale "http://127.0.0.1:$dport/"
load shale riak-PUT "http://127.0.0.1:$rport/" riak_put.lua
load shale riak-GET "http://127.0.0.1:$rport/" riak_get.lua

if command -v moto_server >/dev/null 2>&1; then
    mport=$(free_port)
    moto_server -H 127.0.0.1 -p "$mport" > "$WORK/moto.log" 2>&1 &
    PIDS+=($!); wait_port "$mport"
    dynamo_loads moto "http://127.0.0.1:$mport/"
else
    echo "moto_server not installed: no DynamoDB reference (pip install \"moto[server]\")" >&2
fi

python3 - "$CSV" "$OUT/http_frontends.md" "$SECS" "$CONNS" <<'PY'
import csv, sys, os
rows = list(csv.DictReader(open(sys.argv[1])))
out = open(sys.argv[2], "w")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
out.write(f"# HTTP front ends under load\n\nOne run of `benches/http_frontends.sh` on {os.cpu_count()} cores ({cpu}); "
          f"wrk `-t2 -c{sys.argv[4]} -d{sys.argv[3]}s` on loopback, sharing the cores with the server; 100-byte values, "
          "100,000 keys (DynamoDB: 1,000 partitions × sort keys).\n\n")
out.write("| server | workload | requests/s | p50 | p99 | non-2xx |\n|---|---|---|---|---|---|\n")
for r in rows:
    out.write(f"| {r['server']} | {r['workload']} | {float(r['requests_per_sec'] or 0):,.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |\n")
PY
cat "$OUT/http_frontends.md"
