"""The shared run loop of the trace harness: time and label model forwards over a grid.

Every engine (trace_sglang, trace_hf; each rank of a multi-rank run) calls `run` with
its engine object and a clock (`make_clock`). For every grid point `run` does untimed
warm-up forwards, then timed forwards with CUDA events around the model forward only,
each labelled with an NVTX range and a torch.profiler record_function named
`trace:<phase>|bsz=<b>|seq=<s>|iter=<i>` (`label`). Work is ordered phase-major (all
prefill blocks, then all decode blocks; `plan`) so the profiled phases form one
cudaProfilerStart/Stop window, which `nsys --capture-range=cudaProfilerApi` records.
Decode steps start from a fresh untimed prefill (labelled `trace-setup`, not a step).
Inside the window, and only there, the module-range hooks are installed
(trace_modules) and engines that captured their CUDA graphs before it capture them again.

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

A grid point that runs out of GPU memory is skipped with a message and a `skipped`
line in the output (with several ranks only when every rank runs out alike; otherwise
the others wait in the next collective and the rank timeout ends the run).

Results: one JSON line per (phase, bsz, seq) of this rank in the output file
(`summarize`, `skipped_row`); progress lines on stdout (and on the rank's progress
stream, TRACE_PROGRESS_FD) start with `TRACE ` followed by JSON (`event`).

Engine protocol: `rank`, `reset()`, `inputs(bsz, seq)`, `prefill(inputs)`,
`decode(state)`; optional `prefill_for_decode(inputs)` (the untimed set-up of a decode
step), `capture_graphs()` with `graph_init`, `emits_module_ranges`, and the torch model
as `model` or `runner.model_runner.model` (trace_modules.model_of).

Invariants: this module imports neither torch nor SGLang at import time (the grid, plan,
labels and statistics are tested without them), and of the harness's own modules only
trace_timing and trace_modules, which import nothing of the harness: engines import this
module, never the entry script (trace_harness), so there is no import cycle.
"""
import json
import math
import os
import sys
import time

import trace_modules
import trace_timing

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


def make_clock():
    """The CUDA clock, or the host clock under the CPU stand-in SGLang (python/standin)."""
    sglang = sys.modules.get("sglang")
    if sglang is not None and getattr(sglang, "TRACE_STANDIN", False):
        return trace_timing.CpuClock()
    return trace_timing.CudaClock()


def skipped_row(phase, bsz, seq, rank, reason):
    return {"phase": phase, "bsz": bsz, "seq": seq, "rank": rank, "skipped": reason}


def run(engine, points, args, out_path, clock, barrier=lambda: None):
    event(
        "env",
        rank=engine.rank,
        timing=clock.name,
        attention=getattr(engine, "attention", None),
        **clock.env(),
    )
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
