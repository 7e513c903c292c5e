#!/usr/bin/env python3
"""The baseline a fleet's user would run without `trace`: DuckDB over the same
Parquet files, the shipped query as it read `kernels` before per-step summaries
(bench/fleet_baseline/<query>.sql). Prints the median seconds of REPS runs.

    bench/fleet_duckdb.py DATA QUERY [REPS]      (needs the duckdb package)
"""

import os
import statistics
import sys
import time

import duckdb


def main(data, query, reps):
    sql = open(os.path.join(os.path.dirname(__file__), "fleet_baseline", f"{query}.sql")).read()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        con = duckdb.connect()
        for table in ("kernels", "steps", "runs"):
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{data}/{table}/*/*.parquet', hive_partitioning = 1)"
            )
        con.execute(sql).fetchall()
        times.append(time.perf_counter() - start)
        con.close()
    print(f"{statistics.median(times):.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)
