//! Parallel ingest: kernel chunks read on several threads and consumed in order
//! give byte-identical Parquet at any thread count, and an export whose kernels
//! are not stored in start order (within a chunk or across a chunk boundary) is
//! read again sorted, with the same result as the sorted export.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sgl_trace::ingest::{self, Summary};

use crate::common::{config, fixture};

const TABLES: [&str; 5] = ["kernels", "memops", "nvtx", "steps", "runs"];

fn ingest_with(threads: usize, inputs: &[PathBuf], out: &Path, run: &str) -> Summary {
    let mut cfg = config(inputs.to_vec(), out);
    cfg.run_id = Some(run.into());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| ingest::run(&cfg)).unwrap()
}

/// Every Parquet file of `run`, by table and file name, with its bytes.
fn files(out: &Path, run: &str) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for table in TABLES {
        let dir = out.join(table).join(format!("run={run}"));
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for path in names {
            let name = format!("{table}/{}", path.file_name().unwrap().to_string_lossy());
            found.push((name, std::fs::read(&path).unwrap()));
        }
    }
    found
}

#[test]
fn every_parquet_file_is_byte_identical_at_1_2_and_4_threads() {
    // hf_capture has 7,188 kernels: 4 chunks at 1 thread, 8 at 2 and at 4.
    let inputs = [
        fixture("nsys/hf_capture.sqlite"),
        fixture("nsys/mini.sqlite"),
        fixture("nsys/tp2.sqlite"),
        fixture("kineto/hf.kineto.json.gz"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for threads in [1, 2, 4] {
        let out = dir.path().join(format!("t{threads}"));
        let summary = ingest_with(threads, &inputs, &out, "all");
        assert!(summary.kernels > 7188 + 4888 + 1488, "{}", summary.kernels);
        outputs.push((threads, files(&out, "all"), summary));
    }
    let (_, one, one_summary) = &outputs[0];
    assert_eq!(
        one.len(),
        4 * 4 + 1,
        "four parts per input table, one runs part"
    );
    for (threads, other, summary) in &outputs[1..] {
        assert_eq!(
            one.iter().map(|f| &f.0).collect::<Vec<_>>(),
            other.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        for ((name, bytes), (_, theirs)) in one.iter().zip(other) {
            assert!(
                bytes == theirs,
                "{name} differs between 1 and {threads} threads"
            );
        }
        assert_eq!(summary.survey, one_summary.survey, "{threads} threads");
        assert_eq!(summary.by_category, one_summary.by_category);
    }
}

/// Copies `fixture` to `path` with kernel `moved` started just after kernel
/// `after` (same duration): stored out of start order.
fn with_moved_kernel(fixture: &Path, path: &Path, moved: i64, after: i64) {
    std::fs::copy(fixture, path).unwrap();
    let c = Connection::open(path).unwrap();
    c.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_KERNEL
         SET start = (SELECT start + 1 FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE rowid = ?2),
             \"end\" = (SELECT start + 1 FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE rowid = ?2) + (\"end\" - start)
         WHERE rowid = ?1",
        [moved, after],
    )
    .unwrap();
}

/// The same rows stored in start order (rowids reassigned; ties keep their order).
fn sorted_copy(unsorted: &Path, path: &Path) {
    std::fs::copy(unsorted, path).unwrap();
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE k AS SELECT * FROM CUPTI_ACTIVITY_KIND_KERNEL ORDER BY start, rowid;
         DELETE FROM CUPTI_ACTIVITY_KIND_KERNEL;
         INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL SELECT * FROM k ORDER BY rowid;
         DROP TABLE k;",
    )
    .unwrap();
}

#[test]
fn kernels_stored_out_of_order_are_read_again_sorted() {
    let dir = tempfile::tempdir().unwrap();
    // At 1 thread the chunks are 1,797 rowids: kernel 1,798 opens the second chunk and
    // now starts before the end of the first (found across the boundary); at 4
    // threads it sits inside a chunk of 1,024 (found within the chunk).
    let unsorted = dir.path().join("unsorted.sqlite");
    with_moved_kernel(&fixture("nsys/hf_capture.sqlite"), &unsorted, 1798, 1000);
    // Same file name, so the same part name and step ids as the unsorted input.
    std::fs::create_dir(dir.path().join("sorted")).unwrap();
    let sorted = dir.path().join("sorted").join("unsorted.sqlite");
    sorted_copy(&unsorted, &sorted);
    let reference = dir.path().join("reference");
    let expected = ingest_with(2, &[sorted], &reference, "r");
    let kernels =
        |out: &Path| std::fs::read(out.join("kernels/run=r/part-unsorted.parquet")).unwrap();
    for threads in [1, 4] {
        let out = dir.path().join(format!("t{threads}"));
        let summary = ingest_with(threads, std::slice::from_ref(&unsorted), &out, "r");
        assert_eq!(
            (summary.kernels, summary.labelled, summary.labelled_ns),
            (expected.kernels, expected.labelled, expected.labelled_ns),
            "{threads} threads"
        );
        assert!(
            kernels(&out) == kernels(&reference),
            "kernels at {threads} threads differ from the sorted export's"
        );
        for table in ["steps", "memops", "nvtx"] {
            let rel = format!("{table}/run=r/part-unsorted.parquet");
            assert!(
                std::fs::read(out.join(&rel)).unwrap()
                    == std::fs::read(reference.join(&rel)).unwrap(),
                "{rel} at {threads} threads"
            );
        }
    }
}
