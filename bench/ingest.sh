#!/usr/bin/env bash
# Ingest throughput and peak memory on N× replicas of a real trace.
#
#   bench/ingest.sh [SOURCE.sqlite] [FACTORS]     (defaults: fixtures/nsys/mini.sqlite, "20 100 200 400": 19 MB to 384 MB)
#
# Builds the release binary, makes replicas with scale_trace.py (../shared/tools, or
# $SCALE_TRACE), and prints one row per (size, threads): wall time, rows/s, MB/s, peak
# RSS; plus the floor — the time SQLite alone needs to read the columns ingest reads
# (same join, same order) — and, when nsys is found ($NSYS or PATH), `nsys stats
# --report nvtx_gpu_proj_sum` on the same file, the baseline users compare with.
# Then it times `trace query categories-by-shape` on the largest replica.
# Per replica it also times `trace report` (the whole HTML page) on the ingested dataset,
# with its page size, against `trace query categories-by-shape` on the same dataset as
# the baseline (ratio = report time / query time).
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-fixtures/nsys/mini.sqlite}"
factors="${2:-20 100 200 400}"
scale="${SCALE_TRACE:-../shared/tools/scale_trace.py}"
work="bench/out"
mkdir -p "$work"
# The baseline: $NSYS, else nsys on PATH (Debian's non-free nsight-systems-target runs
# `nsys stats` on SQLite without a GPU).
nsys="${NSYS:-$(command -v nsys || true)}"

# $TRACE_BIN: a release binary built beforehand (skips the build).
bin="${TRACE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-target}/release/trace"
  [ -x "$bin" ] || bin="$HOME/.cache/trace-target/release/trace"
fi

# measure CMD... -> prints "seconds peak_kb"
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > /dev/null 2> "$work/stderr.txt" || {
    cat "$work/stderr.txt" >&2; return 1; }
  cat "$work/time.txt"
}

floor_sql='SELECT count(*), total(k.start), total(k.shortName), total(r.globalTid), total(r.start) FROM CUPTI_ACTIVITY_KIND_KERNEL k LEFT JOIN CUPTI_ACTIVITY_KIND_RUNTIME r ON r.correlationId = k.correlationId AND (r.globalTid & -16777216) = k.globalPid ORDER BY k.start'

printf "%-18s %8s %10s %8s %8s %12s %8s %9s\n" input MB kernels threads "time_s" "rows/s" "MB/s" "peak_MB"
last=""
report_rows=()
for n in $factors; do
  input="$work/$(basename "$src" .sqlite)_x$n.sqlite"
  [ -f "$input" ] || python3 "$scale" "$src" "$input" "$n"
  mb=$(du -m "$input" | cut -f1)
  rows=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(sum(c.execute(f'select count(*) from {t}').fetchone()[0] for t in ['CUPTI_ACTIVITY_KIND_KERNEL','CUPTI_ACTIVITY_KIND_MEMCPY','CUPTI_ACTIVITY_KIND_MEMSET','NVTX_EVENTS']))" "$input")
  kernels=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from CUPTI_ACTIVITY_KIND_KERNEL').fetchone()[0])" "$input")
  for threads in 1 2; do
    rm -rf "$work/parquet"
    read -r secs kb < <(measure "$bin" ingest "$input" --out "$work/parquet" --threads "$threads" --quiet)
    printf "%-18s %8s %10s %8s %8.2f %12.0f %8.1f %9.0f\n" "x$n" "$mb" "$kernels" "$threads" "$secs" \
      "$(echo "$rows / $secs" | bc -l)" "$(echo "$mb / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
  done
  read -r qsecs qkb < <(measure "$bin" query categories-by-shape --data "$work/parquet")
  read -r secs kb < <(measure "$bin" report --data "$work/parquet" --out "$work/report.html")
  report_rows+=("$(printf "%-18s %10s %10.2f %10.2f %8.1f %9.0f %10.1f" "x$n" "$kernels" "$secs" "$qsecs" \
    "$(echo "$secs / $qsecs" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(echo "$(stat -c %s "$work/report.html") / 1048576" | bc -l)")")
  read -r secs kb < <(measure python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone())" "$input" "$floor_sql")
  printf "%-18s %8s %10s %8s %8.2f %12s %8.1f %9.0f\n" "x$n sqlite-floor" "$mb" "$kernels" 1 "$secs" - "$(echo "$mb / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
  if [ -n "$nsys" ]; then
    read -r secs kb < <(measure "$nsys" stats --report nvtx_gpu_proj_sum --format csv --force-export=false "$input")
    printf "%-18s %8s %10s %8s %8.2f %12s %8.1f %9.0f\n" "x$n nsys-stats" "$mb" "$kernels" - "$secs" - "$(echo "$mb / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
  fi
  last="$input"
done

rm -rf "$work/parquet"
"$bin" ingest "$last" --out "$work/parquet" --quiet 2> /dev/null
read -r secs kb < <(measure "$bin" query categories-by-shape --data "$work/parquet")
printf "\nquery categories-by-shape on %s: %.2f s, peak %.0f MB\n" "$(basename "$last")" "$secs" "$(echo "$kb / 1024" | bc -l)"

printf "\n%-18s %10s %10s %10s %8s %9s %10s\n" input kernels report_s query_s ratio peak_MB page_MB
printf "%s\n" "${report_rows[@]}"
