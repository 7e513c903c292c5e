//! Invariants: labelled + unlabelled time is the total; results do not depend on
//! the rayon thread count or on the order of the inputs.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use datafusion::arrow::util::display::array_value_to_string;
use rusqlite::Connection;
use sgl_trace::ingest;

use crate::common::{config, fixture, ingest, read_table};

#[test]
fn labelled_plus_unlabelled_is_total_kernel_time() {
    for (file, run) in [
        ("nsys/mini.sqlite", "mini"),
        ("nsys/tp2.sqlite", "tp2"),
        ("nsys/mini_range.sqlite", "mini_range"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let summary = ingest(&[fixture(file)], out.path());
        let conn = Connection::open(fixture(file)).unwrap();
        let (count, total): (u64, i64) = conn
            .query_row(
                "SELECT count(*), sum(\"end\" - start) FROM CUPTI_ACTIVITY_KIND_KERNEL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (summary.kernels, summary.kernel_ns),
            (count, total),
            "{file}"
        );
        let kernels = read_table(out.path(), "kernels", run);
        let step = kernels.column_by_name("step").unwrap();
        let dur = kernels
            .column_by_name("dur_ns")
            .unwrap()
            .as_primitive::<Int64Type>();
        let (mut labelled, mut unlabelled) = (0i64, 0i64);
        for i in 0..kernels.num_rows() {
            if step.is_null(i) {
                unlabelled += dur.value(i);
            } else {
                labelled += dur.value(i);
            }
        }
        assert_eq!(labelled, summary.labelled_ns, "{file}");
        assert_eq!(labelled + unlabelled, total, "{file}");
        let by_category: i64 = summary.by_category.values().map(|(_, ns)| ns).sum();
        assert_eq!(by_category, total, "{file}");
    }
}

/// Every kernel row as (pid, device, start, name) → its attribution and category,
/// independent of part numbering and step ids.
fn kernel_facts(out: &Path, run: &str) -> BTreeMap<(i64, i32, i64, String), String> {
    let k = read_table(out, "kernels", run);
    let pid = k.column_by_name("pid").unwrap().as_primitive::<Int64Type>();
    let device = k
        .column_by_name("device")
        .unwrap()
        .as_primitive::<Int32Type>();
    let start = k
        .column_by_name("start_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    let name = k.column_by_name("name").unwrap().as_string::<i32>();
    let cols = [
        "phase", "bsz", "seq", "iter", "category", "launch", "api", "dur_ns",
    ];
    let mut facts = BTreeMap::new();
    for i in 0..k.num_rows() {
        let value: Vec<String> = cols
            .iter()
            .map(|c| array_value_to_string(k.column_by_name(c).unwrap(), i).unwrap())
            .collect();
        let previous = facts.insert(
            (
                pid.value(i),
                device.value(i),
                start.value(i),
                name.value(i).to_string(),
            ),
            value.join("|"),
        );
        assert!(previous.is_none(), "kernel key must be unique");
    }
    facts
}

#[test]
fn results_do_not_depend_on_thread_count_or_input_order() {
    let inputs = [fixture("nsys/mini.sqlite"), fixture("nsys/tp2.sqlite")];
    let run_with = |threads: usize, reversed: bool| {
        let out = tempfile::tempdir().unwrap();
        let mut files = inputs.to_vec();
        if reversed {
            files.reverse();
        }
        let mut cfg = config(files, out.path());
        cfg.run_id = Some("both".into());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let summary = pool.install(|| ingest::run(&cfg)).unwrap();
        assert_eq!(
            (summary.kernels, summary.labelled),
            (4888 + 1488, 3810 + 1104)
        );
        out
    };
    let one = run_with(1, false);
    let four = run_with(4, false);
    let reversed = run_with(2, true);
    // Same inputs, same order: byte-identical Parquet whatever the thread count.
    for table in ["kernels", "memops", "steps", "nvtx"] {
        for part in ["part-mini.parquet", "part-tp2.parquet"] {
            let rel = format!("{table}/run=both/{part}");
            assert_eq!(
                std::fs::read(one.path().join(&rel)).unwrap(),
                std::fs::read(four.path().join(&rel)).unwrap(),
                "{rel} differs between 1 and 4 threads"
            );
            assert_eq!(
                std::fs::read(one.path().join(&rel)).unwrap(),
                std::fs::read(reversed.path().join(&rel)).unwrap(),
                "{rel} depends on the order of the inputs"
            );
        }
    }
    // Reversed inputs: same rows and attribution (parts are named by file, so their
    // step ids do not depend on the order either).
    assert_eq!(
        kernel_facts(one.path(), "both"),
        kernel_facts(reversed.path(), "both")
    );
}
