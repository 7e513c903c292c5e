"""trace capture harness: time and label model forwards over a bsz x seq grid.

Written next to each run by `trace capture` (the binary embeds this file) and run
under Nsight Systems. For every grid point it runs untimed warm-up forwards, then
timed forwards with CUDA events around the model forward only, each labelled with
an NVTX range and a torch.profiler record_function named
`trace:<phase>|bsz=<b>|seq=<s>|iter=<i>`. Work is ordered phase-major (all prefill
blocks, then all decode blocks) so the profiled phases form one
cudaProfilerStart/Stop window, which `nsys --capture-range=cudaProfilerApi` records.
Decode steps start from a fresh untimed prefill (labelled `trace-setup`, not a step).

What lies between the CUDA events of a timed step (trace_timing.CudaClock): the
one engine call for that step and nothing else. SGLang prefill: `extend` (build the
ScheduleBatch and ForwardBatch, the model forward with its collectives, sampling);
SGLang decode: `decode` (the same for one new token per sequence, replaying the
CUDA graph when the batch fits `cuda_graph_max_bs`, which `trace capture` raises
to the grid's largest batch). HF prefill: the model forward with a dynamic KV cache;
HF decode: copying the set-up prefill's argmax token into the CUDA graph's input and
one graph replay of the forward over a static KV cache (`--decode eager`: the eager
forward over the dynamic cache). Untimed, outside the events:
input preparation, the pool reset, the set-up prefill of a decode step, and a
barrier of all ranks (their process group, else a local barrier) before each
timed step, so rank skew is not timed.

HF runs (trace_hf): one GPU, or with --tp-size N one process per rank (transformers'
tensor-parallel plan, expert parallel with --ep-size > 1), supervised the same way.
A rank that has written its results but has not exited 20 s later (a stuck NCCL
teardown was seen under nsys) is stopped, and the run counts as done.
SGLang runs (trace_sglang, trace_ranks): one process per local rank, sharing one
ServerArgs and one PortArgs built here; a rank that fails or outlives
--rank-timeout ends the run with its rank and log tail. A grid point that runs
out of GPU memory is skipped with a message and a `skipped` line in --out (with
several ranks only when every rank runs out alike; otherwise the others wait in the
next collective and the rank timeout ends the run).

Results: one JSON line per (phase, bsz, seq, rank) in --out; progress lines on
stdout start with `TRACE ` followed by JSON. The parts that need no GPU (grid,
plan, labels, statistics, arguments, rank supervision with the CPU stand-in in
python/standin) need neither torch nor sglang and are tested with
`python3 -m unittest discover -s python` from the repository.
"""
import argparse
import json
import math
import os
import sys
import time

PHASES = ("prefill", "decode")


def parse_grid(spec):
    """`1;128|4;512` (one point per `|`) or `1,4;128,512` (cross product) -> [(bsz, seq)]."""
    points = []
    for part in spec.split("|"):
        part = part.strip()
        if not part:
            continue
        if ";" not in part:
            raise ValueError(f"grid part {part!r} lacks ';' between batch sizes and sequence lengths")
        bszs, seqs = part.split(";", 1)
        for b in bszs.split(","):
            for s in seqs.split(","):
                point = (int(b), int(s))
                if point[0] <= 0 or point[1] <= 0:
                    raise ValueError(f"grid point {point} must be positive")
                if point not in points:
                    points.append(point)
    if not points:
        raise ValueError("empty grid")
    return points


def label(phase, bsz, seq, it):
    return f"trace:{phase}|bsz={bsz}|seq={seq}|iter={it}"


def profiled_phases(profile):
    return {"none": (), "prefill": ("prefill",), "decode": ("decode",), "both": PHASES}[profile]


def plan(points, profile):
    """Blocks in run order: (phase, bsz, seq, starts_window, ends_window)."""
    blocks = [(phase, b, s) for phase in PHASES for (b, s) in points]
    wanted = profiled_phases(profile)
    inside = [i for i, blk in enumerate(blocks) if blk[0] in wanted]
    first, last = (inside[0], inside[-1]) if inside else (None, None)
    return [(p, b, s, i == first, i == last) for i, (p, b, s) in enumerate(blocks)]


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def summarize(phase, bsz, seq, rank, samples_ms):
    v = sorted(samples_ms)
    return {
        "phase": phase, "bsz": bsz, "seq": seq, "rank": rank, "iters": len(v),
        "mean_ms": sum(v) / len(v) if v else float("nan"),
        "p50_ms": percentile(v, 0.5), "p90_ms": percentile(v, 0.9),
        "min_ms": v[0] if v else float("nan"), "max_ms": v[-1] if v else float("nan"),
        "samples_ms": samples_ms,
    }


def event(kind, **fields):
    """A progress line; a rank process with the progress stream also writes it there."""
    line = "TRACE " + json.dumps({"event": kind, **fields})
    print(line, flush=True)
    fd = os.environ.get("TRACE_PROGRESS_FD")
    if fd:
        os.write(int(fd), (line + "\n").encode())


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


# ---------------------------------------------------------------- the run

def make_clock():
    """The CUDA clock, or the host clock under the CPU stand-in SGLang (python/standin)."""
    sglang = sys.modules.get("sglang")
    if sglang is not None and getattr(sglang, "TRACE_STANDIN", False):
        from trace_timing import CpuClock

        return CpuClock()
    from trace_timing import CudaClock

    return CudaClock()


def skipped_row(phase, bsz, seq, rank, reason):
    return {"phase": phase, "bsz": bsz, "seq": seq, "rank": rank, "skipped": reason}


def run(engine, points, args, out_path, clock, barrier=lambda: None):
    event("env", rank=engine.rank, timing=clock.name, **clock.env())
    skipped = {}
    ranges = None
    with clock.inference_mode():
        for i, (b, s) in enumerate(points):
            event("warmup", index=i + 1, total=len(points), bsz=b, seq=s)
            try:
                for _ in range(args.warmup):
                    engine.reset()
                    state = clock.untimed("trace-warmup", lambda: engine.prefill(engine.inputs(b, s)))
                    clock.untimed("trace-warmup", lambda: engine.decode(state))
            except Exception as e:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
                if not clock.is_out_of_memory(e):
                    raise
                skipped[(b, s)] = f"out of memory at warm-up: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}"
                event("skip", bsz=b, seq=s, reason=skipped[(b, s)])
                engine.reset()
                clock.release_memory()
        clock.synchronize()
        kept = [p for p in points if p not in skipped]
        blocks = plan(kept, args.profile) if kept else []
        with open(out_path, "w") as out:
            for (b, s), reason in skipped.items():
                for phase in PHASES:
                    out.write(json.dumps(skipped_row(phase, b, s, engine.rank, reason)) + "\n")
            for n, (phase, b, s, starts, ends) in enumerate(blocks):
                if starts:
                    clock.synchronize()
                    clock.profiler_start(kineto_path(args, engine.rank))
                    ranges = module_ranges(engine, clock, args)
                    capture_graphs_in_window(engine, clock)
                event("block", index=n + 1, total=len(blocks), phase=phase, bsz=b, seq=s)
                try:
                    row = summarize(phase, b, s, engine.rank, timed_block(engine, clock, barrier, phase, b, s, args))
                except Exception as e:  # noqa: BLE001
                    if not clock.is_out_of_memory(e):
                        raise
                    row = skipped_row(phase, b, s, engine.rank, "out of memory")
                    event("skip", phase=phase, bsz=b, seq=s, reason=row["skipped"])
                    engine.reset()
                    clock.release_memory()
                out.write(json.dumps(row) + "\n")
                out.flush()
                if ends:
                    clock.synchronize()
                    if ranges is not None:
                        ranges.remove()
                        event("module_ranges", rank=engine.rank, forwards=ranges.calls)
                        ranges = None
                    clock.profiler_stop()
    event("done", blocks=len(blocks), skipped=len(skipped))


def capture_graphs_in_window(engine, clock):
    """Engines that captured their CUDA graphs before the profiled window (SGLang, at
    model load) capture them again here, untimed and inside the window, with the module
    ranges open: the report then holds every graph node's capture."""
    capture = getattr(engine, "capture_graphs", None)
    if capture is None:
        return
    started = time.perf_counter()
    if clock.untimed("trace-graph-capture", capture):
        clock.synchronize()
        event("graphs", rank=engine.rank, method=engine.graph_init,
              seconds=round(time.perf_counter() - started, 3))


def kineto_path(args, rank):
    path = getattr(args, "kineto_out", None)
    return path.replace("{rank}", str(rank)) if path else None


def module_ranges(engine, clock, args):
    """Module-range hooks for the profiled window (trace_modules), or None when off or the
    engine exposes no torch model (the CPU stand-in)."""
    if getattr(args, "module_ranges", "off") == "off" or getattr(clock, "torch", None) is None:
        return None
    import trace_modules

    model = trace_modules.model_of(engine)
    if model is None or getattr(engine, "emits_module_ranges", False):
        return None
    # profiler annotations only feed Kineto; without it they would only cost time
    annotate = getattr(clock, "kineto", None) is not None
    return trace_modules.ModuleRanges(model, clock.torch, annotate=annotate).install()


def timed_block(engine, clock, barrier, phase, b, s, args):
    samples = []
    for it in range(args.iters):
        engine.reset()
        ids = engine.inputs(b, s)
        if phase == "prefill":
            barrier()
            _, ms = clock.timed(label(phase, b, s, it), lambda: engine.prefill(ids))
        else:
            setup = getattr(engine, "prefill_for_decode", engine.prefill)
            state = clock.untimed("trace-setup", lambda: setup(ids))
            clock.synchronize()
            barrier()
            _, ms = clock.timed(label(phase, b, s, it), lambda: engine.decode(state))
        samples.append(ms)
    return samples


def run_sglang(args, points):
    """Parent of the SGLang ranks: version check, shared set-up, supervision, merge."""
    try:
        import sglang
    except ImportError as e:
        sys.exit(f"trace harness: SGLang is not importable ({e}); install it (pip install sglang) "
                 "or use --engine hf")
    import trace_ranks
    import trace_sglang

    version = getattr(sglang, "__version__", "unknown")
    try:
        facts = trace_sglang.facts_for(version, trace_sglang.load_api())
        differ = trace_sglang.installed_facts_problems(version, facts)
        if differ:
            raise trace_sglang.HarnessError(
                f"the installed SGLang {version} ({os.path.dirname(sglang.__file__)}) does not match the "
                f"released {version} that trace knows: " + "; ".join(differ[:4]))
        event("sglang", version=version, api=facts["version"], module=facts["bench_module"],
              graph_init=facts.get("graph_init"), standin=bool(getattr(sglang, "TRACE_STANDIN", False)))
        flags = json.load(open(args.server_args_file)) if args.server_args_file else []
        flags, note = trace_sglang.with_layerwise_markers(flags, facts, args)
        if note:
            print(f"trace harness: {note}", flush=True)
        server_args, port_args = trace_sglang.prepare(flags, facts, version)
    except trace_sglang.HarnessError as e:
        sys.exit(f"trace harness: {e}")
    world = int(server_args.tp_size)
    nnodes, node = int(getattr(server_args, "nnodes", 1) or 1), int(getattr(server_args, "node_rank", 0) or 0)
    try:
        ranks = trace_ranks.supervise(trace_sglang.rank_main, (facts, server_args, port_args, points, args),
                                      world, nnodes, node, log_prefix=args.out, timeout_s=args.rank_timeout,
                                      on_started=lambda pids: event("ranks", pids=pids))
    except trace_ranks.RankFailure as e:
        sys.exit(f"trace harness: {e}")
    trace_ranks.collect(args.out, ranks)


def main(argv=None):
    args = parse_args(argv)
    points = parse_grid(args.grid)
    try:
        if args.engine == "hf":
            try:
                import torch  # noqa: F401
                import transformers  # noqa: F401
            except ImportError as e:
                sys.exit(f"trace harness: the hf engine needs PyTorch and transformers ({e})")
            import trace_hf

            trace_hf.run_hf(args, points)
        else:
            run_sglang(args, points)
    except KeyboardInterrupt:
        try:
            import torch
            torch.cuda.profiler.stop()
        except Exception:
            pass
        event("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
