#!/usr/bin/env python3
"""A fleet's dataset: N runs that are replicas of one real ingested run, laid out as
`trace ingest` lays out runs (docs/SCHEMA.md "Commit protocol"): for each replica
`.runs/<key>/gen-1/<table>/…` (hard links to the source run's current generation —
no copies, so 10,000 runs cost inodes, not gigabytes), `current -> gen-1`, `run-id`,
and `<table>/run=<key> -> ../.runs/<key>/current/<table>`.

    bench/fleet.py SOURCE_DATASET RUN OUT N

Every replica holds the same rows; queries that group by `run` see N runs. The runs
table's `run_id` column keeps the source's id (the partition key is the replica's).
"""

import os
import sys


def main(src, run, out, n):
    generation = os.path.realpath(os.path.join(src, ".runs", run, "current"))
    if not os.path.isdir(generation):
        sys.exit(f"{src}: no run {run!r} (no .runs/{run}/current)")
    tables = sorted(t for t in os.listdir(generation) if not t.startswith("."))
    files = []
    for dirpath, _, names in os.walk(generation):
        for name in names:
            full = os.path.join(dirpath, name)
            files.append(os.path.relpath(full, generation))
    os.makedirs(os.path.join(out, ".runs"), exist_ok=True)
    for table in tables:
        os.makedirs(os.path.join(out, table), exist_ok=True)
    for i in range(n):
        key = f"{run}-{i:05d}"
        base = os.path.join(out, ".runs", key)
        gen = os.path.join(base, "gen-1")
        for rel in files:
            target = os.path.join(gen, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(os.path.join(generation, rel), target)
        for table in tables:
            os.makedirs(os.path.join(gen, table), exist_ok=True)
        os.symlink("gen-1", os.path.join(base, "current"))
        with open(os.path.join(base, "run-id"), "w") as f:
            f.write(key)
        for table in tables:
            os.symlink(
                os.path.join("..", ".runs", key, "current", table),
                os.path.join(out, table, f"run={key}"),
            )
    print(f"{out}: {n} runs of {run} ({len(files)} files each, hard links)")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
