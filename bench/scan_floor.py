#!/usr/bin/env python3
"""The SQLite read floor of ingest: plain column scans, no join, no sort.

Reads the kernel columns ingest needs (start, end, device, stream, correlation id,
process, name ids, graph node) and the CUDA API columns (start, end, thread,
correlation id, name id), each table split into CONNECTIONS rowid ranges scanned on
as many threads, one read-only connection each. SQLite sums every column inside C
(`total()`), so no Python per-row work is timed: only SQLite reading the pages.
Usage: scan_floor.py EXPORT.sqlite CONNECTIONS  (prints rows read and seconds)
"""
import sqlite3, sys, threading, time

SCANS = {
    "CUPTI_ACTIVITY_KIND_KERNEL": ["start", "end", "deviceId", "streamId", "correlationId",
                                   "globalPid", "shortName", "demangledName", "graphNodeId"],
    "CUPTI_ACTIVITY_KIND_RUNTIME": ["start", "end", "globalTid", "correlationId", "nameId"],
}

def scan(path, table, cols, lo, hi, out):
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    sums = ", ".join(f'total("{col}")' for col in cols)
    out.append(c.execute(f"SELECT count(*), {sums} FROM {table} WHERE rowid BETWEEN ? AND ?",
                         (lo, hi)).fetchone()[0])
    c.close()

def main(path, connections):
    c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    started = time.perf_counter()
    rows = 0
    for table, cols in SCANS.items():
        lo, hi = c.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
        step = (hi - lo) // connections + 1
        out, threads = [], []
        for i in range(connections):
            a = lo + i * step
            t = threading.Thread(target=scan, args=(path, table, cols, a, min(a + step - 1, hi), out))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        rows += sum(out)
    print(rows, f"{time.perf_counter() - started:.3f}")

if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
