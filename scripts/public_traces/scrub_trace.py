#!/usr/bin/env python3
"""Scrub a public profiler trace before it becomes a fixture (fixtures/README.md).

Usage:
  python3 scripts/public_traces/scrub_trace.py IN OUT   # Kineto .json/.json.gz or nsys .sqlite

Scrubbing (Kineto): keep schemaVersion, CUDA/CUPTI versions, displayTimeUnit,
baseTimeNanoseconds and traceEvents; deviceProperties reduced to hardware
fields; distributedInfo reduced to backend/rank/world_size; traceName and
any other top-level key dropped; absolute paths in event names/args are
rewritten to `<path>/<basename>`; `/tmp/torchinductor_<user>` -> `<inductor>`;
process / thread names other than generic ones replaced by `<scrubbed>`.
Scrubbing (SQLite): TARGET_INFO_SYSTEM_ENV rows and any table with ENV /
host / user columns are emptied; PROCESSES.name / arguments and
TARGET_INFO_SYSTEM_INFO host names are blanked (best effort, schema varies by
nsys version).
"""
import gzip
import json
import re
import shutil
import sqlite3
import sys

SAFE_DEVICE_FIELDS = {
    "id", "name", "totalGlobalMem", "computeMajor", "computeMinor",
    "maxThreadsPerBlock", "maxThreadsPerMultiprocessor", "regsPerBlock",
    "warpSize", "sharedMemPerBlock", "numSms", "regsPerMultiprocessor",
    "sharedMemPerBlockOptin", "sharedMemPerMultiprocessor",
}
SAFE_TOP = {"schemaVersion", "cupti_version", "cuda_runtime_version",
            "cuda_driver_version", "displayTimeUnit", "baseTimeNanoseconds",
            "record_shapes", "with_stack", "traceEvents", "deviceProperties",
            "distributedInfo"}
GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}
ABS_PATH = re.compile(r"(?<![A-Za-z0-9_.])/(?:[A-Za-z0-9_.@+\-]+/)+([A-Za-z0-9_.@+\-]+)")
INDUCTOR = re.compile(r"/tmp/torchinductor_[A-Za-z0-9_.\-]+")


def _open_json(path):
    p = str(path)
    op = gzip.open if p.endswith(".gz") else open
    with op(p, "rt", encoding="utf-8", errors="replace") as f:
        return json.load(f)


def _scrub_str(s):
    s = INDUCTOR.sub("<inductor>", s)
    return ABS_PATH.sub(lambda m: "<path>/" + m.group(1), s)


def _scrub_obj(o):
    if isinstance(o, str):
        return _scrub_str(o)
    if isinstance(o, list):
        return [_scrub_obj(x) for x in o]
    if isinstance(o, dict):
        return {k: _scrub_obj(v) for k, v in o.items()}
    return o


def scrub_kineto(src, dst):
    d = _open_json(src)
    if isinstance(d, list):
        d = {"traceEvents": d}
    out = {k: v for k, v in d.items() if k in SAFE_TOP}
    if "deviceProperties" in out:
        out["deviceProperties"] = [{k: v for k, v in dp.items() if k in SAFE_DEVICE_FIELDS}
                                   for dp in out["deviceProperties"]]
    if "distributedInfo" in out:
        di = out["distributedInfo"]
        out["distributedInfo"] = {k: di[k] for k in ("backend", "rank", "world_size") if k in di}
    evs = []
    for e in out.get("traceEvents", []):
        if e.get("ph") == "M" and e.get("name") in ("process_name", "thread_name", "process_labels"):
            # process / thread names may carry host names; keep only generic ones
            e = dict(e)
            nm = str(e.get("args", {}).get("name", ""))
            if not re.fullmatch(r"(python\d*|GPU \d+|CPU|thread \d+.*|stream \d+.*|\s*)", nm):
                e["args"] = {"name": "<scrubbed>"}
        evs.append(_scrub_obj(e))
    out["traceEvents"] = evs
    dst = str(dst)
    op = gzip.open if dst.endswith(".gz") else open
    with op(dst, "wt", encoding="utf-8") as f:
        json.dump(out, f)


def scrub_sqlite(src, dst):
    shutil.copyfile(src, dst)
    c = sqlite3.connect(dst)
    tables = [r[0] for r in c.execute("select name from sqlite_master where type='table'")]
    for t in tables:
        if t in ("TARGET_INFO_SYSTEM_ENV", "TARGET_INFO_ENV") or t.endswith("_ENV"):
            c.execute(f'DELETE FROM "{t}"')
            continue
        cols = [r[1] for r in c.execute(f'PRAGMA table_info("{t}")')]
        for col in cols:
            lc = col.lower()
            if lc in ("hostname", "host", "username", "user", "arguments", "cwd",
                      "commandline", "command_line", "workingdirectory"):
                c.execute(f'UPDATE "{t}" SET "{col}" = NULL')
        if t == "PROCESSES" and "name" in cols:
            c.execute('UPDATE PROCESSES SET name = NULL')
    if "StringIds" in tables:
        rows = c.execute("select id, value from StringIds").fetchall()
        for i, v in rows:
            if v and ("/" in v):
                nv = _scrub_str(v)
                if nv != v:
                    c.execute("update StringIds set value=? where id=?", (nv, i))
    c.commit()
    c.execute("VACUUM")
    c.close()


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    src, dst = argv[1], argv[2]
    (scrub_sqlite if src.endswith(".sqlite") else scrub_kineto)(src, dst)


if __name__ == "__main__":
    main(sys.argv)
