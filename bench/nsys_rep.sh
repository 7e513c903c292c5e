#!/usr/bin/env bash
# `.nsys-rep` → dataset against `nsys stats` on the same report, in one invocation:
#
#   bench/nsys_rep.sh REPORT.nsys-rep [ROUNDS]     (default 3; TRACE_BIN: a release
#                                                   binary; TRACE_NSYS or PATH: nsys)
#
# Each round, alternating: `nsys stats -r nvtx_gpu_proj_sum,cuda_gpu_kern_sum`, `trace
# ingest REPORT` (exports parquetdir where nsys ≥ 2024.6 can, then ingests) and the
# same through SQLite (TRACE_NSYS_EXPORT=sqlite). Prints milliseconds per round, the
# medians, and ingest / stats. Needs a machine with nsys (a GPU is not needed).
set -euo pipefail
report="$(realpath "$1")"
rounds="${2:-3}"
bin="${TRACE_BIN:-target/release/trace}"
nsys="${TRACE_NSYS:-$(command -v nsys)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$report" "$work/r.nsys-rep"
ms() { local t0; t0=$(date +%s%N); "$@" > /dev/null 2>&1; echo $(( ($(date +%s%N) - t0) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: > "$work/stats"; : > "$work/pq"; : > "$work/sq"
echo "round stats_ms parquetdir_ms sqlite_ms"
for r in $(seq "$rounds"); do
  a=$(ms "$nsys" stats --force-export=true --sqlite "$work/s.sqlite" -r nvtx_gpu_proj_sum,cuda_gpu_kern_sum "$work/r.nsys-rep")
  rm -rf "$work/d1" "$work/d2" "$work/r.parquetdir" "$work/r.sqlite"
  b=$(ms "$bin" ingest --quiet --nsys "$nsys" --out "$work/d1" "$work/r.nsys-rep")
  rm -rf "$work/r.parquetdir" "$work/r.sqlite"
  c=$(TRACE_NSYS_EXPORT=sqlite ms "$bin" ingest --quiet --nsys "$nsys" --out "$work/d2" "$work/r.nsys-rep")
  echo "$r $a $b $c"; echo "$a" >> "$work/stats"; echo "$b" >> "$work/pq"; echo "$c" >> "$work/sq"
done
s=$(median < "$work/stats"); p=$(median < "$work/pq"); q=$(median < "$work/sq")
awk -v s="$s" -v p="$p" -v q="$q" 'BEGIN { printf "median: stats %d ms, parquetdir %d ms (%.2fx), sqlite %d ms (%.2fx)\n", s, p, p / s, q, q / s }'
