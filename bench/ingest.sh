#!/usr/bin/env bash
# Ingest throughput and peak memory on N× replicas of real traces, against the SQLite
# read floor and `nsys stats`, measured in one invocation so the ratios are comparable.
#
#   bench/ingest.sh                      both families (below), per-rank files, report
#   bench/ingest.sh SOURCE.sqlite "N…"   one family: replicas of SOURCE at factors N…
#
# Families (replicas made with scale_trace.py: ../shared/tools, or $SCALE_TRACE):
#   mini        fixtures/nsys/mini.sqlite ×20 ×100 ×200 ×400 (19 to 371 MB; CUDA-graph decode)
#   hf_capture  fixtures/nsys/hf_capture.sqlite ×18 ×70 ×285 (23 to 360 MB; eager HF decode,
#               ~2.3 API rows per kernel)
# For each replica: `trace ingest` at 1, 2 and all ($(nproc)) threads; the floor — SQLite
# alone scanning the kernel and API columns ingest reads, no join (bench/scan_floor.py),
# on 1 and 2 connections; and, when nsys is found ($NSYS or PATH), `nsys stats --report
# nvtx_gpu_proj_sum`, the baseline users compare with. x_nsys and x_floor2 are ingest
# time over nsys stats and over the 2-connection floor. Peak RSS from /usr/bin/time.
# Then eight per-rank files (tp2.sqlite ×20 copies named per rank) ingested as one run
# at 1 and all threads, and `trace report` / `trace query` timed on the mini replicas.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${SCALE_TRACE:-../shared/tools/scale_trace.py}"
work="bench/out"
mkdir -p "$work"
all=$(nproc)
# The baseline: $NSYS, else nsys on PATH (Debian's non-free nsight-systems-target runs
# `nsys stats` on SQLite without a GPU; see docs/PERFORMANCE.md).
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

count() {
  python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(f'select count(*) from {sys.argv[2]}').fetchone()[0])" "$1" "$2"
}

ratio() { if [ "$2" = "-" ]; then echo "-"; else printf "%.2f" "$(echo "$1 / $2" | bc -l)"; fi; }

row() { # name MB kernels run secs peak_kb nsys_s floor2_s
  printf "%-20s %6s %9s %-13s %7.2f %8.0f %7s %8s\n" "$1" "$2" "$3" "$4" "$5" "$(echo "$6 / 1024" | bc -l)" \
    "$(ratio "$5" "$7")" "$(ratio "$5" "$8")"
}

header() {
  printf "%-20s %6s %9s %-13s %7s %8s %7s %8s\n" input MB kernels run time_s peak_MB x_nsys x_floor2
}

report_rows=()
family() { # SOURCE "FACTORS" REPORT(0/1)
  local src="$1" factors="$2" with_report="$3" n input mb kernels secs kb f1 f2 ns
  for n in $factors; do
    input="$work/$(basename "$src" .sqlite)_x$n.sqlite"
    [ -f "$input" ] || python3 "$scale" "$src" "$input" "$n"
    mb=$(du -m "$input" | cut -f1)
    kernels=$(count "$input" CUPTI_ACTIVITY_KIND_KERNEL)
    name="$(basename "$input" .sqlite)"
    read -r secs kb < <(measure python3 bench/scan_floor.py "$input" 1); f1=$secs
    row "$name" "$mb" "$kernels" "floor 1 conn" "$secs" "$kb" - -
    read -r secs kb < <(measure python3 bench/scan_floor.py "$input" 2); f2=$secs
    row "$name" "$mb" "$kernels" "floor 2 conn" "$secs" "$kb" - -
    ns="-"
    if [ -n "$nsys" ]; then
      read -r secs kb < <(measure "$nsys" stats --report nvtx_gpu_proj_sum --format csv --force-export=false "$input")
      ns=$secs
      row "$name" "$mb" "$kernels" "nsys stats" "$secs" "$kb" - -
    fi
    for threads in $(printf "%s\n" 1 2 "$all" | awk '!seen[$0]++'); do
      rm -rf "$work/parquet"
      read -r secs kb < <(measure "$bin" ingest "$input" --out "$work/parquet" --threads "$threads" --quiet)
      row "$name" "$mb" "$kernels" "trace t=$threads" "$secs" "$kb" "$ns" "$f2"
    done
    if [ "$with_report" = 1 ]; then
      read -r qsecs qkb < <(measure "$bin" query categories-by-shape --data "$work/parquet")
      read -r secs kb < <(measure "$bin" report --data "$work/parquet" --out "$work/report.html")
      report_rows+=("$(printf "%-20s %10s %10.2f %10.2f %8.1f %9.0f %10.1f" "$name" "$kernels" "$secs" "$qsecs" \
        "$(echo "$secs / $qsecs" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(echo "$(stat -c %s "$work/report.html") / 1048576" | bc -l)")")
    fi
  done
}

header
if [ $# -gt 0 ]; then
  family "$1" "${2:-20 100 200 400}" 1
else
  family fixtures/nsys/hf_capture.sqlite "18 70 285" 0

  # Eight per-rank reports of one run, ingested concurrently.
  rank0="$work/tp2_x20.sqlite"
  [ -f "$rank0" ] || python3 "$scale" fixtures/nsys/tp2.sqlite "$rank0" 20
  ranks=()
  for r in 0 1 2 3 4 5 6 7; do
    [ -f "$work/tp2_rank$r.sqlite" ] || cp "$rank0" "$work/tp2_rank$r.sqlite"
    ranks+=("$work/tp2_rank$r.sqlite")
  done
  mb=$(du -cm "${ranks[@]}" | tail -1 | cut -f1)
  kernels=$(( 8 * $(count "$rank0" CUPTI_ACTIVITY_KIND_KERNEL) ))
  printf "\n"
  header
  base=""
  for threads in $(printf "%s\n" 1 "$all" | awk '!seen[$0]++'); do
    rm -rf "$work/parquet"
    read -r secs kb < <(measure "$bin" ingest "${ranks[@]}" --run-id ranks --out "$work/parquet" --threads "$threads" --quiet)
    [ -n "$base" ] || base=$secs
    printf "%-20s %6s %9s %-13s %7.2f %8.0f %7s %8s   (speed-up %.2f)\n" "8 ranks (tp2 x20)" "$mb" "$kernels" "trace t=$threads" \
      "$secs" "$(echo "$kb / 1024" | bc -l)" - - "$(echo "$base / $secs" | bc -l)"
  done
  printf "\n"
  header
  family fixtures/nsys/mini.sqlite "20 100 200 400" 1
fi

if [ ${#report_rows[@]} -gt 0 ]; then
  printf "\n%-20s %10s %10s %10s %8s %9s %10s\n" input kernels report_s query_s ratio peak_MB page_MB
  printf "%s\n" "${report_rows[@]}"
fi
