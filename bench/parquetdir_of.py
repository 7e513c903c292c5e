#!/usr/bin/env python3
"""Write an nsys SQLite export as the parquetdir nsys 2024.6+ would have written: one
Parquet file per table, rows in stored order, each column with the type the real
export in fixtures/nsys-parquetdir/ gives it (unsigned ids, large_string text; other
columns Int64 / Float64 / large_string from their values).

    bench/parquetdir_of.py IN.sqlite OUT.parquetdir [--row-group ROWS]

With ../shared/tools/scale_trace.py (IN.sqlite → N× replica) this makes big parquetdir
inputs for bench/parquetdir.sh; tests/it/parquetdir.rs does the same in Rust for the
row-for-row equality tests. Needs pyarrow.
"""

import argparse
import os
import sqlite3
import sys

import pyarrow as pa
import pyarrow.parquet as pq

REAL = os.path.join(
    os.path.dirname(__file__), "..", "fixtures", "nsys-parquetdir", "h200_qwen3moe_2l_hf.parquetdir"
)
BATCH = 256 * 1024


def real_types():
    types = {}
    for name in os.listdir(REAL):
        if name.endswith(".parquet"):
            table = name[: -len(".parquet")]
            for field in pq.read_schema(os.path.join(REAL, name)):
                types[(table, field.name)] = field.type
    return types


def fits(values, wanted):
    try:
        pa.array(values, type=wanted)
        return True
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return False


def convert(src, dst, row_group):
    types = real_types()
    os.makedirs(dst, exist_ok=True)
    db = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    db.text_factory = lambda b: b.decode("utf-8", "replace")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        cur = db.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cur.description]
        writer, schema = None, None
        while True:
            rows = cur.fetchmany(BATCH)
            if not rows:
                break
            columns = list(zip(*rows))
            if schema is None:
                fields = []
                for name, values in zip(names, columns):
                    wanted = types.get((table, name))
                    if wanted is not None and wanted == pa.uint64():
                        values = [None if v is None else v & 0xFFFFFFFFFFFFFFFF for v in values]
                    if wanted is None or not fits(list(values), wanted):
                        wanted = pa.array(list(values)).type
                        wanted = pa.large_string() if wanted == pa.string() else wanted
                    fields.append(pa.field(name, wanted))
                schema = pa.schema(fields)
                writer = pq.ParquetWriter(os.path.join(dst, f"{table}.parquet"), schema)
            arrays = []
            for field, values in zip(schema, columns):
                values = list(values)
                if field.type == pa.uint64():
                    values = [None if v is None else v & 0xFFFFFFFFFFFFFFFF for v in values]
                arrays.append(pa.array(values, type=field.type))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=row_group)
        if writer is None:
            empty = pa.schema([pa.field(n, pa.int64()) for n in names])
            pq.write_table(empty.empty_table(), os.path.join(dst, f"{table}.parquet"))
        else:
            writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    # Row groups never exceed one fetched batch (BATCH rows): a smaller value cuts
    # each batch into several groups.
    parser.add_argument("--row-group", type=int, default=1 << 20)
    args = parser.parse_args()
    if os.path.exists(args.dst):
        sys.exit(f"{args.dst} exists")
    convert(args.src, args.dst, args.row_group)


if __name__ == "__main__":
    main()
