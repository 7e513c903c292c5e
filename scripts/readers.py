#!/usr/bin/env python3
"""Reads a trace dataset's `kernels` table with pandas (pyarrow), polars and DuckDB,
as plain Hive-partitioned Parquet, and prints each engine's rows per run.

    pip install pandas pyarrow polars duckdb
    python3 scripts/readers.py results/parquet [TRACE_BIN]

With TRACE_BIN (the `trace` binary) it also runs `trace query` for the same counts
and exits 1 unless every engine agrees with it: the `run=<key>` symlinks into the
run generations must be followed and the hidden `.runs/` tree never listed.
"""
import csv
import io
import subprocess
import sys


def counts_pandas(root):
    import pandas as pd
    k = pd.read_parquet(f"{root}/kernels")
    return {str(r): int(n) for r, n in k.groupby("run", observed=True).size().items()}


def counts_polars(root):
    import polars as pl
    k = pl.read_parquet(f"{root}/kernels/**/*.parquet", hive_partitioning=True)
    return {r: n for r, n in k.group_by("run").len().iter_rows()}


def counts_duckdb(root):
    import duckdb
    rows = duckdb.sql(
        f"SELECT run, count(*) FROM read_parquet('{root}/kernels/*/*.parquet', "
        "hive_partitioning = true) GROUP BY run").fetchall()
    return {str(r): n for r, n in rows}


def counts_trace(root, binary):
    out = subprocess.run(
        [binary, "query", "--data", root, "--format", "csv", "--sql",
         "SELECT run, count(*) AS n FROM kernels GROUP BY run"],
        check=True, capture_output=True, text=True).stdout
    return {row["run"]: int(row["n"]) for row in csv.DictReader(io.StringIO(out))}


def main():
    root = sys.argv[1]
    engines = {"pandas+pyarrow": counts_pandas, "polars": counts_polars, "duckdb": counts_duckdb}
    seen = {name: read(root) for name, read in engines.items()}
    if len(sys.argv) > 2:
        seen["trace query"] = counts_trace(root, sys.argv[2])
    runs = sorted(set().union(*seen.values()))
    print(f"{'run':<20}" + "".join(f"{name:>16}" for name in seen))
    for run in runs:
        print(f"{run:<20}" + "".join(f"{seen[name].get(run, 0):>16}" for name in seen))
    agree = all(counts == seen[next(iter(seen))] for counts in seen.values())
    print("all engines agree" if agree else "ENGINES DISAGREE")
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
