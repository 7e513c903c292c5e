"""trace capture harness: time and label model forwards over a bsz x seq grid.

Written next to each run by `trace capture` (the binary embeds this file) and run
under Nsight Systems. For every grid point it runs untimed warm-up forwards, then
timed forwards with CUDA events around the model forward only, each labelled with
an NVTX range and a torch.profiler record_function named
`trace:<phase>|bsz=<b>|seq=<s>|iter=<i>`. Work is ordered phase-major (all prefill
blocks, then all decode blocks) so the profiled phases form one
cudaProfilerStart/Stop window, which `nsys --capture-range=cudaProfilerApi` records.
Decode steps start from a fresh untimed prefill (labelled `trace-setup`, not a step).

Results: one JSON line per (phase, bsz, seq, rank) in --out; progress lines on
stdout start with `TRACE ` followed by JSON. The parts that need no GPU (grid,
plan, labels, statistics, arguments) import neither torch nor sglang and are tested
with `python3 -m unittest` from the repository.
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
    print("TRACE " + json.dumps({"event": kind, **fields}), flush=True)


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
    args = p.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        p.error("--iters must be >= 1 and --warmup >= 0")
    return args


# ---------------------------------------------------------------- engines (GPU)

class HFEngine:
    """transformers model from config.json with random weights (single GPU)."""

    def __init__(self, model_dir):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        self.torch = torch
        cfg = AutoConfig.from_pretrained(model_dir, trust_remote_code=True)
        if getattr(cfg, "quantization_config", None) is not None:
            cfg.quantization_config = None  # random BF16 weights; FP8 needs a checkpoint
        with torch.device("cuda"):
            try:
                model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16, trust_remote_code=True)
            except TypeError:
                model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16, trust_remote_code=True)
        self.model = model.eval()
        self.vocab = min(int(cfg.vocab_size), 32000)
        self.rank = 0

    def inputs(self, bsz, seq):
        return self.torch.randint(0, self.vocab, (bsz, seq), device="cuda")

    def prefill(self, ids):
        return self.model(ids, use_cache=True)

    def decode(self, state):
        nxt = state.logits[:, -1:].argmax(-1)
        return self.model(nxt, past_key_values=state.past_key_values, use_cache=True)

    def reset(self):
        pass


class SGLangEngine:
    """SGLang ModelRunner built the way `python -m sglang.bench_one_batch` builds it."""

    def __init__(self, server_args, port_args, tp_rank):
        import torch
        from sglang import bench_one_batch as b1

        self.torch, self.b1 = torch, b1
        self.model_runner, _ = b1.load_model(server_args, port_args, tp_rank)
        self.rank = tp_rank
        self.batch = None

    def inputs(self, bsz, seq):
        return self.b1.prepare_synthetic_inputs_for_latency_test(bsz, seq)

    def prefill(self, reqs):
        next_ids, _, batch = self.b1.extend(reqs, self.model_runner)
        return next_ids, batch

    def decode(self, state):
        next_ids, batch = state
        out, _ = self.b1.decode(next_ids, batch, self.model_runner)
        return out, batch

    def reset(self):
        self.model_runner.req_to_token_pool.clear()
        self.model_runner.token_to_kv_pool_allocator.clear()


# ---------------------------------------------------------------- the run

def run(engine, points, args, out_path):
    import torch

    def timed(name, fn):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.nvtx.range_push(name)
        with torch.profiler.record_function(name):
            start.record()
            result = fn()
            end.record()
        torch.cuda.nvtx.range_pop()
        torch.cuda.synchronize()
        return result, start.elapsed_time(end)

    def untimed(name, fn):
        torch.cuda.nvtx.range_push(name)
        result = fn()
        torch.cuda.nvtx.range_pop()
        return result

    event("env", gpu=torch.cuda.get_device_name(), gpus=torch.cuda.device_count(), torch=torch.__version__,
          rank=engine.rank)
    with torch.inference_mode():
        for i, (b, s) in enumerate(points):
            event("warmup", index=i + 1, total=len(points), bsz=b, seq=s)
            for _ in range(args.warmup):
                engine.reset()
                state = untimed("trace-warmup", lambda: engine.prefill(engine.inputs(b, s)))
                untimed("trace-warmup", lambda: engine.decode(state))
        torch.cuda.synchronize()
        blocks = plan(points, args.profile)
        with open(out_path, "w") as out:
            for n, (phase, b, s, starts, ends) in enumerate(blocks):
                if starts:
                    torch.cuda.synchronize()
                    torch.cuda.profiler.start()
                event("block", index=n + 1, total=len(blocks), phase=phase, bsz=b, seq=s)
                samples = []
                for it in range(args.iters):
                    engine.reset()
                    ids = engine.inputs(b, s)
                    if phase == "prefill":
                        _, ms = timed(label(phase, b, s, it), lambda: engine.prefill(ids))
                    else:
                        state = untimed("trace-setup", lambda: engine.prefill(ids))
                        torch.cuda.synchronize()
                        _, ms = timed(label(phase, b, s, it), lambda: engine.decode(state))
                    samples.append(ms)
                out.write(json.dumps(summarize(phase, b, s, engine.rank, samples)) + "\n")
                out.flush()
                if ends:
                    torch.cuda.synchronize()
                    torch.cuda.profiler.stop()
    event("done", blocks=len(blocks))


def sglang_rank(server_flags, points, args, tp_rank, out_path):
    from sglang.srt.server_args import PortArgs, ServerArgs

    parser = argparse.ArgumentParser()
    ServerArgs.add_cli_args(parser)
    server_args = ServerArgs.from_cli_args(parser.parse_args(server_flags))
    port_args = PortArgs.init_new(server_args)
    run(SGLangEngine(server_args, port_args, tp_rank), points, args, out_path)


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
            run(HFEngine(args.model_dir), points, args, args.out)
        else:
            try:
                import sglang  # noqa: F401
            except ImportError as e:
                sys.exit(f"trace harness: SGLang is not importable ({e}); install it (pip install sglang) "
                         "or use --engine hf")
            flags = json.load(open(args.server_args_file)) if args.server_args_file else []
            tp = int(flags[flags.index("--tp-size") + 1]) if "--tp-size" in flags else 1
            nnodes = int(flags[flags.index("--nnodes") + 1]) if "--nnodes" in flags else 1
            node = int(flags[flags.index("--node-rank") + 1]) if "--node-rank" in flags else 0
            per_node = max(tp // nnodes, 1)
            ranks = range(node * per_node, (node + 1) * per_node)
            if len(ranks) == 1:
                sglang_rank(flags, points, args, ranks[0], args.out)
            else:
                import multiprocessing as mp
                procs = []
                for r in ranks:
                    out = args.out if r == ranks[0] else f"{args.out}.rank{r}"
                    proc = mp.Process(target=sglang_rank, args=(flags, points, args, r, out))
                    proc.start()
                    procs.append(proc)
                for proc in procs:
                    proc.join()
                bad = [p.exitcode for p in procs if p.exitcode != 0]
                if bad:
                    sys.exit(f"trace harness: {len(bad)} rank(s) failed (exit codes {bad})")
                with open(args.out, "a") as merged:
                    for r in ranks[1:]:
                        path = f"{args.out}.rank{r}"
                        if os.path.exists(path):
                            merged.write(open(path).read())
                            os.remove(path)
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
