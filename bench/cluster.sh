#!/usr/bin/env bash
# `trace query` across many runs: the local engine against a local Apache DataFusion
# Ballista cluster (one scheduler, 1 and then 2 executors), on the same dataset.
#
#   bench/cluster.sh [RUNS] [FACTOR]      (defaults: 205 runs of a 20× replica of
#                                          fixtures/nsys/mini.sqlite: 205 × 97,760 =
#                                          20.0 M kernel rows)
#
# Builds the release binary with `--features cluster` (or uses $TRACE_BIN), makes the
# FACTOR× replica with scale_trace.py (../shared/tools, or $SCALE_TRACE), ingests it
# once, and replicates that run RUNS times by hard-linking its generation under new
# run keys (`r000`, `r001`, …: the files are shared, so the `run` partition differs
# and `runs.run_id` still names the source run). Then, for three queries — `SELECT 1`
# (the fixed cost: process start, registering the tables, one job round trip), a
# count over `kernels` (the scan) and `categories-by-shape` (the shipped query,
# across all runs) — it prints wall time and peak RSS of the client locally and on
# the cluster, with the ratio to local, and checks that every answer is identical
# byte for byte. Total task slots are the same in every setup (nproc): one executor
# runs nproc tasks, two run nproc/2 each.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-205}"
factor="${2:-20}"
scale="${SCALE_TRACE:-../shared/tools/scale_trace.py}"
work="bench/out/cluster"
data="$work/parquet"
mkdir -p "$work"

bin="${TRACE_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet --features cluster
  bin="${CARGO_TARGET_DIR:-target}/release/trace"
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

input="$work/mini_x$factor.sqlite"
[ -f "$input" ] || python3 "$scale" fixtures/nsys/mini.sqlite "$input" "$factor"
if [ ! -f "$data/.replicas-$runs" ]; then
  rm -rf "$data"
  "$bin" ingest "$input" --run-id base --out "$data" --quiet 2> /dev/null
  python3 - "$data" "$runs" <<'EOF'
import os, subprocess, sys
data, runs = sys.argv[1], int(sys.argv[2])
tables = [t for t in os.listdir(data) if not t.startswith(".")]
for i in range(runs):
    key = f"r{i:03d}"
    run_dir = os.path.join(data, ".runs", key)
    subprocess.run(["cp", "-al", os.path.join(data, ".runs", "base"), run_dir], check=True)
    with open(os.path.join(run_dir, "run-id"), "w") as f:
        f.write(key)
    for t in tables:
        os.symlink(os.path.join("..", ".runs", key, "current", t), os.path.join(data, t, f"run={key}"))
for t in tables:
    os.remove(os.path.join(data, t, "run=base"))
open(os.path.join(data, f".replicas-{runs}"), "w").close()
EOF
fi

# measure OUT CMD... -> prints "seconds peak_MB"; stdout of CMD goes to OUT
measure() {
  local out="$1"; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$out" 2> "$work/stderr.txt" || {
    cat "$work/stderr.txt" >&2; return 1; }
  read -r secs kb < "$work/time.txt"
  echo "$secs $((kb / 1024))"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}
pids=()
stop_cluster() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap stop_cluster EXIT
start_cluster() {  # start_cluster EXECUTORS -> sets $url
  local n="$1" slots sp
  slots=$(( $(nproc) / n )); [ "$slots" -ge 1 ] || slots=1
  sp=$(free_port)
  "$bin" cluster scheduler --bind-host 127.0.0.1 --port "$sp" > "$work/scheduler.log" 2>&1 & pids+=($!)
  wait_port "$sp"
  for i in $(seq 1 "$n"); do
    local fp gp
    fp=$(free_port); gp=$(free_port)
    mkdir -p "$work/executor$i"
    "$bin" cluster executor --scheduler "127.0.0.1:$sp" --bind-host 127.0.0.1 \
      --external-host 127.0.0.1 --port "$fp" --grpc-port "$gp" --concurrent-tasks "$slots" \
      --work-dir "$work/executor$i" > "$work/executor$i.log" 2>&1 & pids+=($!)
    wait_port "$fp"; wait_port "$gp"
  done
  sleep 1
  url="df://127.0.0.1:$sp"
}

kernels=$("$bin" query --data "$data" --format csv --sql "SELECT count(*) AS n FROM kernels" | tail -1)
nruns=$("$bin" query --data "$data" --format csv --sql "SELECT count(DISTINCT run) AS n FROM kernels" | tail -1)
read_mb=$(python3 -c 'import os,sys; print(round(sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sys.argv[1], followlinks=True) if "/.runs" not in d for f in fs) / 2**20))' "$data")
echo "dataset: $nruns runs, $kernels kernel rows, $read_mb MB of Parquet as readers list it ($(du -sh "$data" | cut -f1) on disk: hard links); $(nproc) cores"
echo

names=("select-1" "count-kernels" "categories-by-shape")
args_of() {
  case "$1" in
    select-1) echo "--sql|SELECT 1 AS one" ;;
    count-kernels) echo "--sql|SELECT count(*) AS n, sum(dur_ns) AS ns FROM kernels" ;;
    categories-by-shape) echo "categories-by-shape" ;;
  esac
}
declare -A secs_of mb_of
run_all() {  # run_all SETUP [CLUSTER_URL]
  local setup="$1" url="${2:-}"
  for name in "${names[@]}"; do
    IFS='|' read -r -a qargs <<< "$(args_of "$name")"
    local extra=()
    [ -z "$url" ] || extra=(--cluster "$url")
    read -r s m < <(measure "$work/$setup-$name.csv" "$bin" query "${qargs[@]}" --data "$data" --format csv "${extra[@]}")
    secs_of["$setup/$name"]=$s; mb_of["$setup/$name"]=$m
  done
}

run_all local
start_cluster 1; run_all cluster1 "$url"; stop_cluster
start_cluster 2; run_all cluster2 "$url"; stop_cluster

printf "%-22s %-12s %9s %8s %9s %10s\n" query setup time_s ratio peak_MB identical
for name in "${names[@]}"; do
  for setup in local cluster1 cluster2; do
    same=yes
    cmp -s "$work/local-$name.csv" "$work/$setup-$name.csv" || same=NO
    label=$setup
    case $setup in cluster1) label="1 executor";; cluster2) label="2 executors";; esac
    printf "%-22s %-12s %9.2f %8.2f %9s %10s\n" "$name" "$label" "${secs_of[$setup/$name]}" \
      "$(echo "${secs_of[$setup/$name]} / ${secs_of[local/$name]}" | bc -l)" "${mb_of[$setup/$name]}" "$same"
  done
done
echo
echo "categories-by-shape answer: $(wc -l < "$work/local-categories-by-shape.csv") lines"
