#!/usr/bin/env bash
# Benchmarks `shale serve` against the real servers in one run on this machine:
# redis-benchmark against shale's Redis front end and redis-server (AOF everysec,
# and default), memcaslap against shale's memcached front end and memcached.
# Writes docs/benchmarks/frontends.{csv,md}.
#
#   benches/frontends.sh                  # N=2000000 requests per redis-benchmark run
#   N=200000 benches/frontends.sh         # a quick run
#   ROUNDS=3 benches/frontends.sh         # every server 3 times, interleaved; medians
#
# Environment: N (requests per redis-benchmark run), ROUNDS (default 1: how many
# times the whole set of servers runs, one after another, so drift on a shared
# machine lands on every server alike; the report takes each figure's median), KEYSPACE (-r, default 1000000),
# CLIENTS (-c, default 50), SECS (memcaslap run time, default 20), OUT (default
# docs/benchmarks), BIN (a `shale` binary instead of building one), BLOCK_CACHE
# (shale's block cache in bytes, default 512 MiB: memcached runs with -m 1024 and
# redis-server keeps everything in memory; 0 keeps the engine default of 64 MiB),
# ENGINE (more `key = value` lines for shale's [engine] config section, e.g.
# "write_buffer_size = 16777216"; see docs/serve.md), CARGO_TARGET_DIR (default
# /tmp/target-bench). Needs scripts/install-test-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000000}
KEYSPACE=${KEYSPACE:-1000000}
BLOCK_CACHE=${BLOCK_CACHE:-536870912}
ENGINE=${ENGINE:-}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-1}
SECS=${SECS:-20}
OUT=${OUT:-docs/benchmarks}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/target-bench}
bash scripts/install-test-deps.sh
if [[ -z "${BIN:-}" ]]; then
    nice -n 10 cargo build -p shale-cli --release >&2
    BIN="$CARGO_TARGET_DIR/release/shale"
fi
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/shale-frontends.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

CSV="$OUT/frontends.csv"
echo "server,workload,pipeline,ops_per_sec,p50_ms,p99_ms" > "$CSV"

# redis-benchmark: one line per test in --csv form:
# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
redis_bench() { # name port pipeline
    redis-benchmark -h 127.0.0.1 -p "$2" -t set,get -n "$N" -r "$KEYSPACE" -P "$3" -c "$CLIENTS" -d 100 --csv \
        | tr -d '"' | awk -F, -v s="$1" -v p="$3" 'NR>1 { printf "%s,%s,%s,%s,%s,%s\n", s, tolower($1), p, $2, $5, $7 }' >> "$CSV"
}

run_redis_server() { # name extra-args...
    local name=$1; shift
    local port; port=$(free_port)
    mkdir -p "$WORK/$name"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/$name" --daemonize no "$@" > "$WORK/$name.log" 2>&1 &
    local pid=$!; PIDS+=("$pid"); wait_port "$port"
    for p in 16 1; do redis_bench "$name" "$port" "$p"; done
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_shale() { # name appendfsync
    local name=$1
    local rport mport; rport=$(free_port); mport=$(free_port)
    local config="$WORK/$name.toml"
    echo '[engine]' > "$config"
    [[ "$BLOCK_CACHE" != 0 ]] && printf 'block_cache_size = %s\n' "$BLOCK_CACHE" >> "$config"
    [[ -n "$ENGINE" ]] && printf '%s\n' "$ENGINE" >> "$config"
    "$BIN" --db "$WORK/$name" serve --config "$config" --protocols redis,memcache --redis "127.0.0.1:$rport" --memcache "127.0.0.1:$mport" \
        --appendfsync "$2" > "$WORK/$name.out" 2> "$WORK/$name.log" &
    local pid=$!; PIDS+=("$pid"); wait_port "$rport"
    for p in 16 1; do redis_bench "$name" "$rport" "$p"; done
    memc_bench "$name" "$mport"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

# memcaslap: default 9:1 get:set mix, 100-byte values; "Run time: 20.0s Ops: N TPS: T Net_rate: …"
memc_bench() { # name port
    local line
    line=$(memcaslap -s "127.0.0.1:$2" -T 2 -c "$CLIENTS" -X 100 -t "${SECS}s" 2>&1 | grep -E '^Run time' | tail -1)
    local tps; tps=$(sed -E 's/.*TPS: ([0-9]+).*/\1/' <<<"$line")
    echo "$1,memcaslap-get9-set1,1,$tps,," >> "$CSV"
}

run_memcached() {
    local port; port=$(free_port)
    memcached -p "$port" -U 0 -l 127.0.0.1 -u "$(id -un)" -m 1024 > "$WORK/memcached.log" 2>&1 &
    local pid=$!; PIDS+=("$pid"); wait_port "$port"
    memc_bench memcached "$port"
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

for _ in $(seq "$ROUNDS"); do
    run_shale shale-everysec everysec
    run_redis_server redis-aof-everysec --appendonly yes --appendfsync everysec --save ''
    run_redis_server redis-default
    run_memcached
    rm -rf "${WORK:?}"/*
done

python3 - "$CSV" "$OUT/frontends.md" "$N" "$CLIENTS" "$BLOCK_CACHE" "$ROUNDS" "$ENGINE" <<'EOF'
import csv, sys, platform, os, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
out = open(sys.argv[2], "w")
def get(server, workload, pipeline):
    """The run of this cell with the median ops/s (its p99 goes with it)."""
    runs = [r for r in rows if (r["server"], r["workload"], r["pipeline"]) == (server, workload, pipeline) and r["ops_per_sec"]]
    if not runs:
        return None
    runs.sort(key=lambda r: float(r["ops_per_sec"]))
    return runs[(len(runs) - 1) // 2]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
out.write(f"# Front ends vs the real servers\n\n`benches/frontends.sh` on {os.cpu_count()} cores ({cpu}); "
          f"clients and servers share the machine. redis-benchmark `-t set,get -n {sys.argv[3]} -r 1000000 -c {sys.argv[4]} -d 100`; "
          f"shale's block cache {sys.argv[5]} bytes (0: the engine default)"
          + (f", engine settings `{'; '.join(sys.argv[7].splitlines())}`" if sys.argv[7] else "") + "; "
          f"{sys.argv[6]} round(s), servers interleaved, each figure the median round's; "
          "memcaslap `-T 2 -c 50 -X 100` (9:1 get:set).\n\n")
out.write("| workload | pipeline | shale ops/s | redis AOF everysec ops/s | ratio | redis default ops/s | ratio | shale p99 ms | redis AOF p99 ms |\n|---|---|---|---|---|---|---|---|---|\n")
for w in ("set", "get"):
    for p in ("16", "1"):
        s, a, d = get("shale-everysec", w, p), get("redis-aof-everysec", w, p), get("redis-default", w, p)
        if not (s and a and d):
            continue
        fs, fa, fd = float(s["ops_per_sec"]), float(a["ops_per_sec"]), float(d["ops_per_sec"])
        out.write(f"| {w.upper()} | {p} | {fs:,.0f} | {fa:,.0f} | {fs/fa:.2f} | {fd:,.0f} | {fs/fd:.2f} | {s['p99_ms']} | {a['p99_ms']} |\n")
s, m = get("shale-everysec", "memcaslap-get9-set1", "1"), get("memcached", "memcaslap-get9-set1", "1")
if s and m and s["ops_per_sec"] and m["ops_per_sec"]:
    fs, fm = float(s["ops_per_sec"]), float(m["ops_per_sec"])
    out.write(f"\n| memcached workload | shale ops/s | memcached ops/s | ratio |\n|---|---|---|---|\n| memcaslap 9:1 get:set | {fs:,.0f} | {fm:,.0f} | {fs/fm:.2f} |\n")
out.close()
EOF
cat "$OUT/frontends.md"
