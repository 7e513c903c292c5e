#!/usr/bin/env python3
"""Trim a vLLM V1 Kineto trace to a few of its annotated engine steps.

Usage:
  python3 scripts/public_traces/trim_kineto_steps.py IN OUT FIRST COUNT

Keeps steps FIRST .. FIRST+COUNT-1 (0-based, in time order) of the CPU
`user_annotation` events named `execute_context_*` (vLLM's per-step profiler
annotation) and writes OUT (.json or .json.gz, not scrubbed: run
`scripts/public_traces/scrub_trace.py` on it). Kept:

- every event (any category) whose start lies in a kept step's CPU window:
  the step's `execute_context_…` annotation, extended to the end of the
  `sample_tokens` call that follows it (vLLM V1 runs the sampler after
  execute_model, outside the annotation; without it a step has no sampler);
- the GPU activity (kernel, gpu_memcpy, gpu_memset) whose `correlation` is a
  kept CUDA runtime / driver call, and the `ac2g` flow events with that id;
- the python_function events (module and call-stack frames) that enclose a kept
  runtime / driver call on its thread, even when they start before the window;
- the `gpu_user_annotation` events of the kept steps (same order as the CPU ones);
- every metadata (`ph: M`) event and every top-level key.
"""
import gzip
import json
import sys


def load(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def dump(obj, path):
    if path.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
            json.dump(obj, f)
    else:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(obj, f)


def trim(d, first, count):
    ev = d["traceEvents"]
    end = lambda e: e["ts"] + e.get("dur", 0)
    steps = sorted(
        (e for e in ev if e.get("cat") == "user_annotation"
         and str(e.get("name", "")).startswith("execute_context_")),
        key=lambda e: e["ts"])
    gpu_steps = sorted(
        (e for e in ev if e.get("cat") == "gpu_user_annotation"
         and str(e.get("name", "")).startswith("execute_context_")),
        key=lambda e: e["ts"])
    chosen = range(first, first + count)
    sampling = [e for e in ev if e.get("cat") == "python_function"
                and "sample_tokens" in str(e.get("name", ""))]
    windows = []
    for i in chosen:
        s = steps[i]
        nxt = steps[i + 1]["ts"] if i + 1 < len(steps) else float("inf")
        after = [end(e) for e in sampling if end(s) <= e["ts"] < nxt]
        windows.append((s["ts"], max([end(s)] + after)))

    def in_window(t):
        return any(a <= t <= b for a, b in windows)

    keep = set()
    for n, e in enumerate(ev):
        if e.get("ph") == "X" and e.get("cat") not in ("kernel", "gpu_memcpy", "gpu_memset",
                                                      "gpu_user_annotation", "Trace") \
                and in_window(e["ts"]):
            keep.add(n)
    launches = [ev[n] for n in keep if ev[n].get("cat") in ("cuda_runtime", "cuda_driver")]
    correlations = {e["args"]["correlation"] for e in launches if "correlation" in e.get("args", {})}
    by_thread = {}
    for e in launches:
        by_thread.setdefault((e["pid"], e["tid"]), []).append(e["ts"])
    for ts in by_thread.values():
        ts.sort()
    import bisect
    for n, e in enumerate(ev):
        cat = e.get("cat")
        if e.get("ph") == "M":
            keep.add(n)
        elif cat in ("kernel", "gpu_memcpy", "gpu_memset"):
            if e.get("args", {}).get("correlation") in correlations:
                keep.add(n)
        elif e.get("ph") in ("s", "f") and cat == "ac2g":
            if e.get("id") in correlations:
                keep.add(n)
        elif cat == "python_function" and n not in keep:
            ts = by_thread.get((e["pid"], e["tid"]), [])
            i = bisect.bisect_left(ts, e["ts"])
            if i < len(ts) and ts[i] <= end(e):
                keep.add(n)
    for i in chosen:
        keep.add(next(n for n, e in enumerate(ev) if e is gpu_steps[i]))
    out = {k: v for k, v in d.items() if k != "traceEvents"}
    out["traceEvents"] = [ev[n] for n in sorted(keep)]
    return out


def main():
    src, dst, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    d = load(src)
    out = trim(d, first, count)
    dump(out, dst)
    print(f"{len(d['traceEvents'])} -> {len(out['traceEvents'])} events")


if __name__ == "__main__":
    main()
