#!/usr/bin/env python3
"""Replicate a PyTorch-profiler (Kineto) trace N times for benchmarks.

Each replica shifts every event's `ts` past the previous copy and offsets
`correlation` / `External id` / flow ids, so kernel -> launch links stay one-to-one.
Usage: scale_kineto.py IN.json[.gz] OUT.json N      (OUT is written uncompressed)
"""
import gzip
import json
import sys


def main(src, dst, n):
    opener = gzip.open if src.endswith(".gz") else open
    with opener(src, "rt") as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    stamps = [e["ts"] for e in events if isinstance(e.get("ts"), (int, float))]
    span = max(stamps) - min(stamps) + 1000.0
    corr = 1 + max((e.get("args", {}).get("correlation", 0) or 0) for e in events)
    with open(dst, "w") as out:
        head = {k: v for k, v in trace.items() if k != "traceEvents"}
        out.write(json.dumps(head)[:-1] + ', "traceEvents": [')
        first = True
        for i in range(n):
            for e in events:
                if i:
                    e = json.loads(json.dumps(e))
                    if isinstance(e.get("ts"), (int, float)):
                        e["ts"] += i * span
                    args = e.get("args")
                    if isinstance(args, dict):
                        for key in ("correlation", "External id"):
                            if isinstance(args.get(key), int):
                                args[key] += i * corr
                    if e.get("cat") == "ac2g" and isinstance(e.get("id"), int):
                        e["id"] += i * corr
                out.write(("" if first else ",") + json.dumps(e))
                first = False
        out.write("]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
