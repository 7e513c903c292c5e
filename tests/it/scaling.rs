//! Results at every size: an N× replica of a real trace (time-shifted copies of
//! every kernel, memop, API call and NVTX row, correlation ids offset per copy — the
//! scheme of `../shared/tools/scale_trace.py`) ingests to exactly N× the counts and
//! GPU time, and to byte-identical Parquet at 1 and 2 threads.

use std::path::Path;

use rusqlite::Connection;
use sgl_trace::ingest;

use crate::common::{config, fixture};

const TABLES: &[&str] = &[
    "CUPTI_ACTIVITY_KIND_KERNEL",
    "CUPTI_ACTIVITY_KIND_MEMCPY",
    "CUPTI_ACTIVITY_KIND_MEMSET",
    "CUPTI_ACTIVITY_KIND_RUNTIME",
    "NVTX_EVENTS",
];

fn replicate(src: &Path, dst: &Path, n: i64) {
    std::fs::copy(src, dst).unwrap();
    let c = Connection::open(dst).unwrap();
    let (lo, hi): (i64, i64) = c
        .query_row(
            "SELECT min(start), max(coalesce(\"end\", start)) FROM CUPTI_ACTIVITY_KIND_RUNTIME",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let span = hi - lo + 1_000_000;
    let corr: i64 = c
        .query_row(
            "SELECT max(correlationId) + 1 FROM CUPTI_ACTIVITY_KIND_RUNTIME",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for table in TABLES {
        let mut stmt = c
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        let cols: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for i in 1..n {
            let select: Vec<String> = cols
                .iter()
                .map(|col| match col.as_str() {
                    "start" | "end" => format!("\"{col}\" + {}", i * span),
                    "correlationId" => format!("\"{col}\" + {}", i * corr),
                    _ => format!("\"{col}\""),
                })
                .collect();
            let names: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
            c.execute(
                &format!(
                    "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE start < {}",
                    names.join(","),
                    select.join(","),
                    lo + span
                ),
                [],
            )
            .unwrap();
        }
    }
}

#[test]
fn a_replica_scales_every_count_and_is_thread_independent() {
    let dir = tempfile::tempdir().unwrap();
    let base = {
        let cfg = config(vec![fixture("nsys/tp2.sqlite")], &dir.path().join("base"));
        ingest::run(&cfg).unwrap()
    };
    let big = dir.path().join("tp2_x3.sqlite");
    replicate(&fixture("nsys/tp2.sqlite"), &big, 3);
    let mut outs = Vec::new();
    for threads in [1, 2] {
        let out = dir.path().join(format!("t{threads}"));
        let cfg = config(vec![big.clone()], &out);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let s = pool.install(|| ingest::run(&cfg)).unwrap();
        assert_eq!(
            (s.kernels, s.labelled, s.steps, s.memops),
            (
                3 * base.kernels,
                3 * base.labelled,
                3 * base.steps,
                3 * base.memops
            )
        );
        assert_eq!(
            (s.kernel_ns, s.labelled_ns),
            (3 * base.kernel_ns, 3 * base.labelled_ns)
        );
        for (category, (n, ns)) in &base.by_category {
            assert_eq!(s.by_category[category], (3 * n, 3 * ns), "{category}");
        }
        for (shape, count) in &base.shapes {
            assert_eq!(s.shapes[shape].steps, 3 * count.steps, "{shape:?}");
        }
        outs.push(out);
    }
    for table in ["kernels", "memops", "steps", "nvtx"] {
        let rel = format!("{table}/run=tp2_x3/part-tp2_x3.parquet");
        assert_eq!(
            std::fs::read(outs[0].join(&rel)).unwrap(),
            std::fs::read(outs[1].join(&rel)).unwrap(),
            "{rel}"
        );
    }
}
