#!/usr/bin/env bash
# A fleet's history: N runs (replicas of one real ~100k-kernel run, bench/fleet.py),
# the shipped queries answered from the compacted summaries (`trace compact`, as
# ingest leaves them), from the runs' own summary files (the compacted file moved
# aside: what a dataset just after a batch of ingests reads), and by DuckDB running the
# questions as they read `kernels` before summaries existed (bench/fleet_baseline/), all
# over the same files, in one invocation, on two trace families:
#
#   bench/fleet.sh [RUNS] [REPS]        (default 10000 runs, 3 reps; TRACE_BIN: release;
#                                        DUCKDB_REPS and FILES_REPS default 1: at 10,000
#                                        runs DuckDB scans a billion kernels per query)
#
#   mini        fixtures/nsys/mini.sqlite ×20 (97,760 kernels; CUDA-graph decode)
#   hf_capture  fixtures/nsys/hf_capture.sqlite ×14 (100,632 kernels; eager HF decode)
# Also prints what the summaries cost: the bytes of `step_categories` next to
# `kernels` and the stage's time at ingest (TRACE_TIMING=1), and `trace compact`'s time
# and file size for the whole fleet. Needs python3 with duckdb
# ($PYTHON) and ../shared/tools/scale_trace.py ($SCALE_TRACE).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10000}"
reps="${2:-3}"
duck_reps="${DUCKDB_REPS:-1}"
files_reps="${FILES_REPS:-1}"
scale="${SCALE_TRACE:-../shared/tools/scale_trace.py}"
python="${PYTHON:-python3}"
work="bench/out/fleet"
mkdir -p "$work"
bin="${TRACE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked --quiet
  bin="${CARGO_TARGET_DIR:-target}/release/trace"
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

time_of() { # REPS COMMAND...: median seconds
  local n="$1"; shift
  : > "$work/t.txt"
  for _ in $(seq "$n"); do
    /usr/bin/time -f %e -o "$work/one.txt" "$@" > /dev/null
    cat "$work/one.txt" >> "$work/t.txt"
  done
  median < "$work/t.txt"
}

printf '%-12s %-20s %7s %9s %9s %9s %9s\n' family query runs trace_s files_s duckdb_s vs_duckdb
for family in mini:20 hf_capture:14; do
  name="${family%%:*}"; factor="${family##*:}"
  src="$work/$name.sqlite"; one="$work/$name.one"; fleet="$work/$name.fleet$runs"
  [ -f "$src" ] || python3 "$scale" "fixtures/nsys/$name.sqlite" "$src" "$factor" > /dev/null
  if [ ! -d "$one" ]; then
    TRACE_TIMING=1 "$bin" ingest --quiet --out "$one" --run-id "$name" "$src" 2> "$work/$name.timing" > /dev/null
  fi
  [ -d "$fleet" ] || python3 bench/fleet.py "$one" "$name" "$fleet" "$runs" > /dev/null
  rm -rf "$fleet/.compact"
  compact_s=$(time_of 1 "$bin" compact --data "$fleet")
  compact_b=$(du -sb "$fleet"/.compact/shape_categories-*.parquet | tail -1 | cut -f1)
  for query in categories-by-shape kernels-by-phase coverage; do
    ours=$(time_of "$reps" "$bin" query "$query" --data "$fleet" --format csv)
    mv "$fleet/.compact" "$fleet.compact-aside"
    files=$(time_of "$files_reps" "$bin" query "$query" --data "$fleet" --format csv)
    mv "$fleet.compact-aside" "$fleet/.compact"
    duck=$("$python" bench/fleet_duckdb.py "$(realpath "$fleet")" "$query" "$duck_reps")
    awk -v f="$name" -v q="$query" -v n="$runs" -v a="$ours" -v c="$files" -v b="$duck" \
      'BEGIN { printf "%-12s %-20s %7d %9.3f %9.3f %9.3f %8.4fx\n", f, q, n, a, c, b, a / b }'
  done
  kb=$(du -sbL "$one/kernels" | cut -f1); sb=$(du -sbL "$one/step_categories" | cut -f1)
  echo "  $name: step_categories $sb bytes next to kernels $kb ($(awk -v a="$sb" -v b="$kb" 'BEGIN { printf "%.2f", 100 * a / b }') %); $(grep -h "step_categories: write" "$work/$name.timing" | head -1)"
  echo "  $name: trace compact of $runs runs ${compact_s} s, $compact_b bytes"
done
