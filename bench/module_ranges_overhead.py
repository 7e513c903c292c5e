"""Per-step cost of the harness's module ranges (python/trace_modules.py) on a real GPU.

    python3 bench/module_ranges_overhead.py [--model-dir model_conf/qwen3_moe] [--config config_2l.json]
    nsys profile -t cuda,nvtx -s none --cpuctxsw none python3 bench/module_ranges_overhead.py

One process, random bf16 weights (as `trace capture --engine hf`). For each shape it times
blocks of eager forwards (CUDA events around the forward, synchronised) with the hooks off
and on, alternating, and prints per shape the median step time of each and the ratio
on/off. CUDA-graph replays run no Python and so no hooks: only eager forwards (prefill,
`--eager` decode, and the graph's capture) pay. Under nsys every range push/pop is
recorded, which is the cost a profiled capture pays.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", default="model_conf/qwen3_moe")
    p.add_argument("--config", default="config_2l.json")
    p.add_argument("--shapes", default="1x128,4x512,1x1,4x1", help="bsz x seq of one eager forward")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--annotate", action="store_true",
                   help="also a torch.profiler record_function per module (what --kineto-out runs add)")
    a = p.parse_args()
    import shutil
    import tempfile

    import torch

    import trace_hf
    import trace_modules

    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(a.model_dir, a.config), os.path.join(tmp, "config.json"))
    model = trace_hf.build_random(trace_hf.load_config(tmp), torch).eval()
    ranges = trace_modules.ModuleRanges(model, torch, annotate=a.annotate)
    print(f"gpu={torch.cuda.get_device_name()} torch={torch.__version__} modules={len(list(model.named_modules()))}")
    print(f"{'shape':>8} {'off_ms':>8} {'on_ms':>8} {'on/off':>7} {'delta_us':>9}")
    with torch.inference_mode():
        for shape in a.shapes.split(","):
            bsz, seq = (int(x) for x in shape.split("x"))
            ids = torch.randint(0, 1000, (bsz, seq), device="cuda")
            times = {False: [], True: []}
            for _ in range(3):
                model(ids)
            for _ in range(a.rounds):
                for on in (False, True):
                    if on:
                        ranges.install()
                    for _ in range(a.iters):
                        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                        s.record()
                        model(ids)
                        e.record()
                        torch.cuda.synchronize()
                        times[on].append(s.elapsed_time(e))
                    ranges.remove()
            off, on = statistics.median(times[False]), statistics.median(times[True])
            print(f"{shape:>8} {off:8.3f} {on:8.3f} {on / off:7.3f} {(on - off) * 1e3:9.1f}")
    print(f"forwards hooked: {ranges.calls}")


if __name__ == "__main__":
    main()
