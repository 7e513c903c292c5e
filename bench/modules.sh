#!/usr/bin/env bash
# What module attribution costs at ingest: time and peak RSS of `trace ingest` on
# replicas of our real capture with module ranges and CUDA-graph decode
# (fixtures/nsys/hf_modules_graph.sqlite ×N, made with scale_trace.py), by a build
# without module attribution ($BASE_BIN, e.g. a release build of the commit before
# it) and one with it ($NEW_BIN, default: this checkout's release build). The two
# run alternately in one invocation, best of 3 each, so the ratio x_time = new/base
# compares like with like.
#
#   BASE_BIN=/tmp/trace-base bench/modules.sh            # factors 10 40
#   BASE_BIN=/tmp/trace-base bench/modules.sh "5 20 80"
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${SCALE_TRACE:-../shared/tools/scale_trace.py}"
factors="${1:-10 40}"
work="bench/out"
mkdir -p "$work"
base="${BASE_BIN:?set BASE_BIN to a trace binary without module attribution}"
new="${NEW_BIN:-}"
if [ -z "$new" ]; then
  cargo build --release --quiet
  new="${CARGO_TARGET_DIR:-target}/release/trace"
fi

# once BIN INPUT -> "seconds peak_kb"
once() {
  rm -rf "$work/ds"
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$1" ingest "$2" --out "$work/ds" \
    > /dev/null 2> "$work/stderr.txt" || { cat "$work/stderr.txt" >&2; return 1; }
  cat "$work/time.txt"
}

# faster "s kb" "s kb" -> the one with fewer seconds
faster() {
  if [ -z "$1" ] || (( $(echo "${2% *} < ${1% *}" | bc -l) )); then echo "$2"; else echo "$1"; fi
}

printf "%-28s %6s %9s %7s %7s %7s %8s %8s %6s\n" \
  input MB kernels base_s new_s x_time base_MB new_MB x_mem
for n in $factors; do
  input="$work/hf_modules_graph_x$n.sqlite"
  [ -f "$input" ] || python3 "$scale" fixtures/nsys/hf_modules_graph.sqlite "$input" "$n"
  mb=$(( $(stat -c %s "$input") / 1048576 ))
  kernels=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from CUPTI_ACTIVITY_KIND_KERNEL').fetchone()[0])" "$input")
  b=""; m=""
  for _ in 1 2 3; do
    b=$(faster "$b" "$(once "$base" "$input")")
    m=$(faster "$m" "$(once "$new" "$input")")
  done
  read -r bs bkb <<< "$b"
  read -r ns nkb <<< "$m"
  printf "%-28s %6s %9s %7.2f %7.2f %7.2f %8.0f %8.0f %6.2f\n" \
    "$(basename "$input")" "$mb" "$kernels" "$bs" "$ns" "$(echo "$ns / $bs" | bc -l)" \
    "$(echo "$bkb / 1024" | bc -l)" "$(echo "$nkb / 1024" | bc -l)" "$(echo "$nkb / $bkb" | bc -l)"
done
