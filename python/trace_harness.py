"""trace capture harness: time and label model forwards over a bsz x seq grid.

The entry script: written next to each run by `trace capture` (the binary embeds it and
the modules it imports) and run under Nsight Systems as
`python3 run/trace_harness.py --engine hf|sglang --model-dir ... --grid ... --out ...`.
It parses the command line, then hands the grid to the engine's parent side; the run
loop itself (warm-ups, timed steps, labels, profiled window, results) is trace_run's.

--engine sglang (trace_sglang.run_sglang, trace_ranks): one process per local rank,
sharing one ServerArgs and one PortArgs built in this process; a rank that fails or
outlives --rank-timeout ends the run with its rank and log tail.
--engine hf (trace_hf.run_hf): one GPU in this process, or with --tp-size N one process
per rank (transformers' tensor-parallel plan, expert parallel with --ep-size > 1),
supervised the same way. A rank that has written its results but has not exited 20 s
later (a stuck NCCL teardown was seen under nsys) is stopped, and the run counts as done.

Results: one JSON line per (phase, bsz, seq, rank) in --out; progress lines on stdout
start with `TRACE ` followed by JSON. A user-facing failure (SGLang or PyTorch missing, a
refused release or flag, a failed or hung rank) exits 1 with a message starting
`trace harness: `; a bad argument exits 2 (argparse); an interrupt stops the profiler,
reports `interrupted` and exits 130.
The parts that need no GPU (grid, plan, labels, statistics, arguments, rank supervision
with the CPU stand-in in python/standin) need neither torch nor sglang and are tested
with `python3 -m unittest discover -s python` from the repository.

Imports: trace_run, trace_sglang, trace_hf; nothing imports this script back.
"""
import argparse
import importlib
import sys

import trace_hf
import trace_run
import trace_sglang


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engine", choices=["hf", "sglang"], default="sglang")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--grid", required=True)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--profile", choices=["none", "prefill", "decode", "both"], default="none")
    p.add_argument("--out", required=True)
    p.add_argument("--server-args-file", help="JSON list of SGLang server-argument flags")
    p.add_argument("--tp-size", type=int, default=1,
                   help="hf engine: tensor-parallel ranks on this node, one GPU each")
    p.add_argument("--ep-size", type=int, default=1,
                   help="hf engine: expert parallel over the ranks when > 1 (MoE models)")
    p.add_argument("--decode", choices=["graph", "eager"], default="graph",
                   help="hf engine: decode replayed from a CUDA graph over a static KV cache, or eager")
    p.add_argument("--module-ranges", choices=["on", "engine", "off"], default="on",
                   help="on: inside the profiled window, one NVTX range per nn.Module forward "
                        "(`module:<name>:<Class>`); engine: SGLang's own layer-wise NVTX markers where the "
                        "release has them (module paths, no class), else the hooks; off: none")
    p.add_argument("--kineto-out",
                   help="also record the profiled window with torch.profiler (Kineto) into this chrome-trace "
                        "file (`.json` or `.json.gz`; `{rank}` is replaced by the rank)")
    p.add_argument("--rank-timeout", type=float, default=3600.0,
                   help="seconds a rank may run before the run is stopped")
    args = p.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.rank_timeout <= 0 or args.tp_size < 1 or args.ep_size < 1:
        p.error("--iters, --tp-size and --ep-size must be >= 1, --warmup >= 0 and --rank-timeout > 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    points = trace_run.parse_grid(args.grid)
    try:
        if args.engine == "hf":
            try:
                for name in ("torch", "transformers"):
                    importlib.import_module(name)
            except ImportError as e:
                sys.exit(f"trace harness: the hf engine needs PyTorch and transformers ({e})")
            trace_hf.run_hf(args, points)
        else:
            trace_sglang.run_sglang(args, points)
    except KeyboardInterrupt:
        try:
            import torch
            torch.cuda.profiler.stop()
        except Exception:
            pass
        trace_run.event("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
