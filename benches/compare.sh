#!/usr/bin/env bash
# Runs the standard db_bench suite for ShaleDB, RocksDB and fjall back to back and
# writes docs/benchmarks/results-<num>.{csv,md,svg}.
#
#   benches/compare.sh                 # --num=1000000, engines shale + fjall
#   benches/compare.sh --big           # --num=10000000
#   FEATURES="fjall rocksdb" benches/compare.sh   # also RocksDB (C++ build, ~15 min)
#
# Environment: NUM (entries, default 1000000; --big = 10000000), SYNC_NUM (entries per
# thread for fillsync, default 10000), ENGINES (default "shale rocksdb fjall"),
# FEATURES (cargo features to build, default "fjall"), DB_ROOT (default /tmp),
# OUT (default docs/benchmarks), BIN (use this binary instead of building one),
# CARGO_TARGET_DIR (default /tmp/target-bench).
# Engines not compiled into the binary are skipped with a note.
set -euo pipefail

cd "$(dirname "$0")/.."
NUM=${NUM:-1000000}
for arg in "$@"; do
    case "$arg" in
        --big) NUM=10000000 ;;
        --num=*) NUM=${arg#--num=} ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown argument '$arg' (valid: --big, --num=N)" >&2; exit 2 ;;
    esac
done
SYNC_NUM=${SYNC_NUM:-10000}
ENGINES=${ENGINES:-"shale rocksdb fjall"}
FEATURES=${FEATURES:-fjall}
DB_ROOT=${DB_ROOT:-/tmp}
OUT=${OUT:-docs/benchmarks}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/target-bench}

if [[ -z "${BIN:-}" ]]; then
    if [[ "$FEATURES" == *rocksdb* ]]; then
        bash scripts/install-bench-deps.sh   # clang + libclang-dev for the C++ build
    fi
    nice -n 10 cargo build -p shale-bench --release --features "$FEATURES" >&2
    BIN="$CARGO_TARGET_DIR/release/shale-bench"
fi
mkdir -p "$OUT"
CSV="$OUT/results-$NUM.csv"
LOG="$OUT/results-$NUM.log"
NOTES="$OUT/results-$NUM.notes"
rm -f "$CSV" "$LOG" "$NOTES"
{
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/{print $2}') GiB RAM"
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ); git: ${GIT_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
} > "$NOTES"

run() { # engine, extra flags...
    local engine=$1; shift
    echo "== $engine $*" | tee -a "$LOG" >&2
    nice -n 10 "$BIN" --engine="$engine" --db="$DB_ROOT/shale-bench-cmp-$engine" \
        --report_csv="$CSV" --histogram=1 "$@" 2>&1 | tee -a "$LOG"
}

for engine in $ENGINES; do
    if ! out=$("$BIN" --engine="$engine" --benchmarks=stats --num=1 --db="$DB_ROOT/shale-bench-probe-$engine" 2>&1); then
        if grep -q "not compiled" <<<"$out"; then
            echo "skipped: $engine (not compiled into this binary; FEATURES=\"$FEATURES\")" | tee -a "$NOTES" >&2
            continue
        fi
        echo "$out" >&2
        exit 1
    fi
    rm -rf "$DB_ROOT/shale-bench-probe-$engine"
    run "$engine" --num="$NUM" --threads=1 \
        --benchmarks=fillseq,fillrandom,overwrite,readrandom,readmissing,readseq,readreverse,seekrandom,stats
    run "$engine" --num="$SYNC_NUM" --threads=1 --benchmarks=fillsync
    run "$engine" --num="$SYNC_NUM" --threads=8 --benchmarks=fillsync
    rm -rf "$DB_ROOT/shale-bench-cmp-$engine"
done

python3 benches/report.py "$CSV" --notes "$NOTES" --markdown "$OUT/results-$NUM.md" --svg "$OUT/results-$NUM.svg"
echo "wrote $CSV, $OUT/results-$NUM.md, $OUT/results-$NUM.svg" >&2
