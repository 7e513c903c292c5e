#!/usr/bin/env bash
# Kineto ingest throughput and peak memory on a replicated PyTorch-profiler trace.
#
#   bench/kineto.sh [SOURCE.json.gz] [N]    (defaults: fixtures/kineto/mini.kineto.json.gz, 40 ≈ 500 MB)
#
# Prints input size, events, wall time, MB/s, events/s and peak RSS (plain JSON and gzip).
set -euo pipefail
cd "$(dirname "$0")/.."
src="${1:-fixtures/kineto/mini.kineto.json.gz}"
n="${2:-40}"
work="bench/out"
mkdir -p "$work"
# $TRACE_BIN: a release binary built beforehand (skips the build).
bin="${TRACE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin="${CARGO_TARGET_DIR:-target}/release/trace"
  [ -x "$bin" ] || bin="$HOME/.cache/trace-target/release/trace"
fi
big="$work/kineto_x$n.json"
[ -f "$big" ] || python3 bench/scale_kineto.py "$src" "$big" "$n"
[ -f "$big.gz" ] || gzip -1 -k "$big"
events=$(python3 -c "import gzip,json,sys; print(len(json.load(gzip.open(sys.argv[1]))['traceEvents']) * int(sys.argv[2]))" "$src" "$n")
printf "%-22s %9s %11s %8s %8s %12s %9s\n" input MB events time_s "MB/s" "events/s" peak_MB
for input in "$big" "$big.gz"; do
  mb=$(du -m "$input" | cut -f1)
  rm -rf "$work/kparquet"
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" ingest "$input" --out "$work/kparquet" --quiet 2> "$work/kineto.err" > /dev/null
  read -r secs kb < "$work/time.txt"
  printf "%-22s %9s %11s %8.2f %8.1f %12.0f %9.0f\n" "$(basename "$input")" "$mb" "$events" "$secs" \
    "$(echo "$mb / $secs" | bc -l)" "$(echo "$events / $secs" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
done
