#!/usr/bin/env bash
# A fleet's history: N runs (replicas of one real ~100k-kernel run, bench/fleet.py),
# the shipped queries answered from per-step summaries against DuckDB running the same
# questions over `kernels` (bench/fleet_baseline/, what the queries read before), both
# over the same files, in one invocation, on two trace families:
#
#   bench/fleet.sh [RUNS] [REPS]        (default 10000 runs, 3 reps; TRACE_BIN: release)
#
#   mini        fixtures/nsys/mini.sqlite ×20 (97,760 kernels; CUDA-graph decode)
#   hf_capture  fixtures/nsys/hf_capture.sqlite ×14 (100,632 kernels; eager HF decode)
# Also prints what the summaries cost at ingest: the bytes of `step_categories` next
# to `kernels`, and the stage's time (TRACE_TIMING=1). Needs python3 with duckdb
# ($PYTHON) and ../shared/tools/scale_trace.py ($SCALE_TRACE).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10000}"
reps="${2:-3}"
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

printf '%-12s %-22s %8s %10s %10s %8s\n' family query runs trace_s duckdb_s ratio
for family in mini:20 hf_capture:14; do
  name="${family%%:*}"; factor="${family##*:}"
  src="$work/$name.sqlite"; one="$work/$name.one"; fleet="$work/$name.fleet$runs"
  [ -f "$src" ] || python3 "$scale" "fixtures/nsys/$name.sqlite" "$src" "$factor" > /dev/null
  if [ ! -d "$one" ]; then
    TRACE_TIMING=1 "$bin" ingest --quiet --out "$one" --run-id "$name" "$src" 2> "$work/$name.timing" > /dev/null
  fi
  [ -d "$fleet" ] || python3 bench/fleet.py "$one" "$name" "$fleet" "$runs" > /dev/null
  for query in categories-by-shape kernels-by-phase coverage; do
    : > "$work/t.txt"
    for _ in $(seq "$reps"); do
      /usr/bin/time -f %e -o "$work/one.txt" "$bin" query "$query" --data "$fleet" --format csv > /dev/null
      cat "$work/one.txt" >> "$work/t.txt"
    done
    ours=$(median < "$work/t.txt")
    duck=$("$python" bench/fleet_duckdb.py "$(realpath "$fleet")" "$query" "$reps")
    awk -v f="$name" -v q="$query" -v n="$runs" -v a="$ours" -v b="$duck" \
      'BEGIN { printf "%-12s %-22s %8d %10.3f %10.3f %7.3fx\n", f, q, n, a, b, a / b }'
  done
  kb=$(du -sbL "$one/kernels" | cut -f1); sb=$(du -sbL "$one/step_categories" | cut -f1)
  echo "  $name: step_categories $sb bytes next to kernels $kb ($(awk -v a="$sb" -v b="$kb" 'BEGIN { printf "%.2f", 100 * a / b }') %); $(grep -h "step_categories: write" "$work/$name.timing" | head -1)"
done
