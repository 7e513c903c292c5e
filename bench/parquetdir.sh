#!/usr/bin/env bash
# Ingest of a report's parquetdir export against ingest of its SQLite export, on both
# trace families, in one invocation (so the ratios are comparable):
#
#   bench/parquetdir.sh [REPS]          (default 5; TRACE_BIN: a release binary;
#                                        PAIRS="a/b …": more pairs a/b.sqlite + a/b.parquetdir;
#                                        MINI_X, HF_X: replica factors, default 200 and 140;
#                                        CPUS="0,1": run every ingest under taskset on those)
#
# Inputs, made once under bench/out/parquetdir/ (replicas of real captures, as
# bench/ingest.sh makes them; scale_trace.py from ../shared/tools or $SCALE_TRACE):
#   mini        fixtures/nsys/mini.sqlite ×200 (CUDA-graph decode)
#   hf_capture  fixtures/nsys/hf_capture.sqlite ×140 (eager HF decode, API-heavy)
# each written as parquetdir by bench/parquetdir_of.py (the real export's column types,
# row groups of 256 Ki rows, one per batch it fetches), and the real H200 pairs in fixtures/nsys-pairs/ (small). Prints the
# median wall time of each over REPS alternating runs, the ratio parquetdir / SQLite,
# and peak RSS. Needs python3 with pyarrow for the conversion ($PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-5}"
scale="${SCALE_TRACE:-../shared/tools/scale_trace.py}"
python="${PYTHON:-python3}"
work="bench/out/parquetdir"
mkdir -p "$work"
bin="${TRACE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin="${CARGO_TARGET_DIR:-target}/release/trace"
fi

make_pair() { # name source factor
  local sqlite="$work/$1.sqlite" dir="$work/$1.parquetdir"
  [ -f "$sqlite" ] || python3 "$scale" "$2" "$sqlite" "$3" > /dev/null
  [ -d "$dir" ] || "$python" bench/parquetdir_of.py "$sqlite" "$dir"
}
mini="mini_x${MINI_X:-200}"; hf="hf_capture_x${HF_X:-140}"
make_pair "$mini" fixtures/nsys/mini.sqlite "${MINI_X:-200}"
make_pair "$hf" fixtures/nsys/hf_capture.sqlite "${HF_X:-140}"
pin=()
[ -z "${CPUS:-}" ] || pin=(taskset -c "$CPUS")

# One timed ingest: prints "seconds peak_kib".
timed() {
  local out="$work/ds"
  rm -rf "$out"
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "${pin[@]}" "$bin" ingest --quiet --out "$out" --run-id r "$1" > /dev/null 2>&1
  cat "$work/time.txt"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-26s %10s %10s %10s %12s %12s %8s\n' input sqlite_MB sqlite_s parquet_s sqlite_MiB parquet_MiB ratio
for name in "$mini" "$hf" pairs/h200_pq_eager pairs/h200_pq_graph ${PAIRS:-}; do
  case "$name" in
    pairs/*) sqlite="fixtures/nsys-${name}.sqlite"; dir="fixtures/nsys-${name}.parquetdir" ;;
    /*) sqlite="$name.sqlite"; dir="$name.parquetdir" ;;
    *) sqlite="$work/$name.sqlite"; dir="$work/$name.parquetdir" ;;
  esac
  : > "$work/a.txt"; : > "$work/b.txt"
  for _ in $(seq "$reps"); do
    timed "$sqlite" >> "$work/a.txt"
    timed "$dir" >> "$work/b.txt"
  done
  a=$(cut -d' ' -f1 "$work/a.txt" | median); b=$(cut -d' ' -f1 "$work/b.txt" | median)
  ma=$(cut -d' ' -f2 "$work/a.txt" | median); mb=$(cut -d' ' -f2 "$work/b.txt" | median)
  awk -v n="$(basename "$name")" -v size="$(stat -c %s "$sqlite")" -v a="$a" -v b="$b" -v ma="$ma" -v mb="$mb" \
    'BEGIN { printf "%-26s %10.0f %10.2f %10.2f %12.0f %12.0f %7.2fx\n", n, size / 1e6, a, b, ma / 1024, mb / 1024, b / a }'
done
