#!/usr/bin/env python3
"""How a notebook should ask a dataset: through the `trace` binary (what `fwdtrace.query`
does: one process, the answer as Parquet, read with pyarrow), or in-process with the
`datafusion` Python package over the same Parquet files.

    bench/python_query.py DATA [DATA…] [--reps 5] [--queries a,b]

Needs pyarrow and datafusion in the running Python and $TRACE_BIN (or the installed
binary). For each dataset and shipped query (default parameters), prints the median of
--reps runs: fwdtrace.query; datafusion cold (a new SessionContext registering every
table, as a fresh notebook cell would) and warm (the SQL alone on a kept context); the
ratios to fwdtrace; and whether the row counts agree.
"""

import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

import fwdtrace  # noqa: E402

QUERIES_DIR = os.path.join(os.path.dirname(__file__), "..", "queries")


def bound_sql(name):
    """The shipped query with its declared defaults substituted (numbers as they are,
    anything else quoted), as `trace query NAME` runs it without --param."""
    text = open(os.path.join(QUERIES_DIR, f"{name}.sql")).read()
    for key, default in re.findall(r"^-- param:\s*(\w+)\s*=\s*([^{\n]*)", text, re.M):
        value = default.strip()
        literal = value if re.fullmatch(r"-?\d+(\.\d+)?", value) else "'" + value.replace("'", "''") + "'"
        text = text.replace("${" + key + "}", literal)
    return text


def context(data):
    import datafusion
    import pyarrow as pa

    ctx = datafusion.SessionContext()
    for table in sorted(os.listdir(data)):
        if table.startswith(".") or not os.path.isdir(os.path.join(data, table)):
            continue
        ctx.register_parquet(
            table,
            os.path.join(data, table) + "/",
            table_partition_cols=[("run", pa.string())],
        )
    return ctx


def median_ms(fn, reps):
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--queries", default="categories-by-shape,kernels-by-phase,top-kernels")
    args = parser.parse_args()
    print(f"binary: {fwdtrace.binary()}")
    header = f"{'dataset':<28} {'query':<22} {'rows':>6} {'fwdtrace_ms':>12} {'df_cold_ms':>11} {'df_warm_ms':>11} {'cold/fwd':>9} {'warm/fwd':>9} same_rows"
    print(header)
    for data in args.data:
        kept = context(data)
        for name in args.queries.split(","):
            sql = bound_sql(name)
            ours_ms, ours = median_ms(lambda: fwdtrace.query(name, data=data), args.reps)
            cold_ms, cold = median_ms(lambda: context(data).sql(sql).to_arrow_table(), args.reps)
            warm_ms, _ = median_ms(lambda: kept.sql(sql).to_arrow_table(), args.reps)
            print(
                f"{os.path.basename(os.path.normpath(data)):<28} {name:<22} {ours.num_rows:>6} "
                f"{ours_ms:>12.1f} {cold_ms:>11.1f} {warm_ms:>11.1f} {cold_ms / ours_ms:>9.2f} "
                f"{warm_ms / ours_ms:>9.2f} {ours.num_rows == cold.num_rows}"
            )


if __name__ == "__main__":
    main()
