#!/usr/bin/env python3
"""Scrub an nsys parquetdir export the way ../shared/gpu-workloads/scrub.py scrubs an
SQLite one: drop the profiled process's environment variables and working directory
(META_DATA_CAPTURE), the host's name, UID, install dir and device environment
(TARGET_INFO_SYSTEM_ENV), blank environment blocks in StringIds, and rewrite paths.
Kernel, runtime, NVTX and graph-node tables are left as they are. Needs pyarrow.

    scrub_parquetdir.py DIR [--replace OLD=NEW ...]      (in place)
"""

import argparse
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def rewrite(value, pairs):
    if value is None:
        return None
    if "\x00" in value and "=" in value:
        return ""
    for old, new in pairs:
        value = value.replace(old, new)
    return value


def scrub(directory, pairs):
    def load(table):
        path = os.path.join(directory, f"{table}.parquet")
        return (path, pq.read_table(path)) if os.path.exists(path) else (path, None)

    path, t = load("META_DATA_CAPTURE")
    if t is not None:
        names = t.column("name")
        drop = pc.or_(pc.match_substring(names, "ENVIRONMENT_VARIABLE"), pc.match_substring(names, "WORKING_DIR"))
        t = t.filter(pc.invert(drop))
        pq.write_table(t, path)
    for table in ("META_DATA_CAPTURE", "META_DATA_EXPORT", "StringIds"):
        path, t = load(table)
        if t is None:
            continue
        i = t.schema.get_field_index("value")
        values = [rewrite(v, pairs) for v in t.column("value").to_pylist()]
        t = t.set_column(i, t.schema.field(i), pa.array(values, type=t.schema.field(i).type))
        pq.write_table(t, path)
    path, t = load("TARGET_INFO_SYSTEM_ENV")
    if t is not None:
        private = pa.array(["DeviceEnvironment", "Hostname", "SystemUID", "TargetInstallDir"])
        t = t.filter(pc.invert(pc.is_in(t.column("name"), value_set=private)))
        pq.write_table(t, path)
    for name in os.listdir(directory):
        data = open(os.path.join(directory, name), "rb").read()
        for old, _ in pairs:
            assert old.encode() not in data, f"{name}: {old!r} remains"


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--replace", action="append", default=[], metavar="OLD=NEW")
    a = p.parse_args()
    scrub(a.dir, [tuple(r.split("=", 1)) for r in a.replace])
    print("scrubbed", a.dir)
