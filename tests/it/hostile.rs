//! Regression tests for issue 14's defects that are not about the commit protocol:
//! impossible times and labels are counted and skipped, `--param` binds values
//! once, `--sql` cannot write, bad part files are refused, multi-member gzip reads,
//! and user-side failures exit 1.

use std::io::Write;
use std::path::Path;

use rusqlite::Connection;
use sgl_trace::ingest;

use crate::common::{config, fixture, read_table, trace};
use crate::synthetic::{self, Synth, GLOBAL_PID};

fn synthetic_with(dir: &Path, sql: &str) -> std::path::PathBuf {
    let path = dir.join("s.sqlite");
    synthetic::build(&path, Synth::default());
    Connection::open(&path).unwrap().execute_batch(sql).unwrap();
    path
}

#[test]
fn impossible_kernel_times_are_counted_and_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let input = synthetic_with(
        dir.path(),
        &format!(
            "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL (start, end, deviceId, contextId, streamId, correlationId, globalPid,
                 demangledName, shortName, registersPerThread, gridX, gridY, gridZ, blockX, blockY, blockZ,
                 staticSharedMemory, dynamicSharedMemory, localMemoryPerThread, localMemoryTotal, gridId)
             VALUES (1500, 1400, 0, 1, 7, 1, {GLOBAL_PID}, 1, 1, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 9),
                    ({min}, {max}, 0, 1, 7, 1, {GLOBAL_PID}, 1, 1, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 10),
                    ({big}, {max}, 0, 1, 7, 1, {GLOBAL_PID}, 1, 1, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 11);",
            min = i64::MIN,
            max = i64::MAX,
            big = i64::MAX - 10,
        ),
    );
    let out = dir.path().join("out");
    let summary = ingest::run(&config(vec![input], &out)).unwrap();
    let skipped = &summary.survey.skipped;
    let end_before = skipped
        .iter()
        .find(|(k, _)| k.contains("end before start"))
        .map(|(_, n)| *n);
    let out_of_range = skipped
        .iter()
        .find(|(k, _)| k.contains("beyond"))
        .map(|(_, n)| *n);
    assert_eq!(
        (end_before, out_of_range),
        (Some(1), Some(2)),
        "{skipped:?}"
    );
    assert_eq!(summary.kernels, 4);
    assert!(summary.kernel_ns >= 0);
    let kernels = read_table(&out, "kernels", "s");
    let dur = kernels
        .column_by_name("dur_ns")
        .unwrap()
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap();
    assert!(dur.iter().all(|d| d.unwrap() >= 0), "{dur:?}");
}

/// A minimal Kineto trace: one labelled step and kernels with the given ts/dur.
fn kineto_with(kernels: &[(&str, &str)]) -> String {
    let mut events = vec![
        r#"{"ph":"X","cat":"user_annotation","name":"decode|bsz=1|seq=8","pid":1,"tid":1,"ts":0,"dur":100}"#.to_string(),
        r#"{"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":1,"tid":1,"ts":10,"dur":1,"args":{"correlation":1}}"#.to_string(),
    ];
    for (ts, dur) in kernels {
        events.push(format!(
            r#"{{"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":{ts},"dur":{dur},"args":{{"correlation":1,"device":0,"stream":7}}}}"#
        ));
    }
    format!(r#"{{"traceEvents":[{}]}}"#, events.join(","))
}

#[test]
fn impossible_kineto_times_are_counted_and_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("k.json");
    std::fs::write(
        &input,
        kineto_with(&[("20", "5"), ("30", "-4"), ("1e300", "1"), ("40", "1e300")]),
    )
    .unwrap();
    let out = dir.path().join("out");
    let summary = ingest::run(&config(vec![input], &out)).unwrap();
    let bad: u64 = summary
        .survey
        .skipped
        .iter()
        .filter(|(k, _)| k.contains("not finite, out of range, or dur < 0"))
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(bad, 3, "{:?}", summary.survey.skipped);
    assert_eq!(summary.kernels, 1);
    assert_eq!(summary.kernel_ns, 5000);
}

#[test]
fn malformed_step_labels_are_counted_not_silently_unlabelled() {
    let dir = tempfile::tempdir().unwrap();
    let input = synthetic_with(
        dir.path(),
        "UPDATE NVTX_EVENTS SET text = 'prefill|bsz=-1|seq=64|iter=0' WHERE text LIKE 'prefill%';
         UPDATE NVTX_EVENTS SET text = 'decode|bsz=99999999999999999999|seq=64' WHERE text LIKE 'decode%';",
    );
    let summary = ingest::run(&config(vec![input], &dir.path().join("out"))).unwrap();
    let refused = summary
        .survey
        .skipped
        .iter()
        .find(|(k, _)| k.contains("bsz/seq not an integer"))
        .map(|(_, n)| *n);
    assert_eq!(refused, Some(2), "{:?}", summary.survey.skipped);
    assert!(summary
        .shapes
        .keys()
        .all(|s| s.bsz > 0 && s.seq.is_some_and(|q| q > 0)));
    assert_eq!(summary.steps, 0);
}

fn query_cmd(out: &Path, args: &[&str]) -> std::process::Output {
    trace()
        .args(["query", "--data", out.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn sql_cannot_write_into_the_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::common::ingest(&[fixture("nsys/mini.sqlite")], &out);
    let part = out.join("kernels/run=mini/part-mini.parquet");
    let before = std::fs::read(&part).unwrap();
    for sql in [
        format!(
            "COPY (SELECT 1 AS x) TO '{}' STORED AS PARQUET",
            part.display()
        ),
        format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}'",
            out.join("kernels").display()
        ),
        "INSERT INTO kernels SELECT * FROM kernels".to_string(),
    ] {
        let o = query_cmd(&out, &["--sql", &sql]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{sql}: {stderr}");
        assert!(stderr.contains("only reads"), "{sql}: {stderr}");
        // Even when writing is allowed, never into the dataset.
        let o = query_cmd(&out, &["--allow-write", "--sql", &sql]);
        assert_ne!(o.status.code(), Some(0), "{sql} with --allow-write");
    }
    assert_eq!(std::fs::read(&part).unwrap(), before);
    // Outside the dataset, with the flag, COPY works.
    let outside = dir.path().join("copy.parquet");
    let sql = format!(
        "COPY (SELECT 1 AS x) TO '{}' STORED AS PARQUET",
        outside.display()
    );
    let o = query_cmd(&out, &["--allow-write", "--sql", &sql]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(outside.exists());
}

#[test]
fn bad_part_files_are_refused_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::common::ingest(&[fixture("nsys/mini.sqlite")], &out);
    let part_dir = out.join("kernels/run=mini");
    // A zero-byte part, then a part with another table's schema.
    std::fs::write(part_dir.join("part-9.parquet"), b"").unwrap();
    let o = query_cmd(&out, &["--sql", "SELECT count(*) FROM kernels"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("empty part file"), "{stderr}");
    std::fs::copy(
        out.join("runs/run=mini/run.parquet"),
        part_dir.join("part-9.parquet"),
    )
    .unwrap();
    let o = query_cmd(&out, &["--sql", "SELECT count(*) FROM kernels"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("columns differ"), "{stderr}");
}

#[test]
fn multi_member_gzip_kineto_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut json = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(fixture("kineto/mini.kineto.json.gz")).unwrap(),
        ),
        &mut json,
    )
    .unwrap();
    let input = dir.path().join("multi.json.gz");
    let mut file = std::fs::File::create(&input).unwrap();
    let (head, tail) = json.split_at(json.len() / 2);
    for member in [head, tail] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(member).unwrap();
        file.write_all(&gz.finish().unwrap()).unwrap();
    }
    drop(file);
    let split = ingest::run(&config(vec![input], &dir.path().join("a"))).unwrap();
    let whole = ingest::run(&config(
        vec![fixture("kineto/mini.kineto.json.gz")],
        &dir.path().join("b"),
    ))
    .unwrap();
    assert_eq!(
        (split.kernels, split.kernel_ns),
        (whole.kernels, whole.kernel_ns)
    );
}

#[test]
fn bad_utf8_in_an_export_is_a_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = synthetic_with(
        dir.path(),
        "UPDATE StringIds SET value = CAST(X'66FF6F' AS TEXT);",
    );
    let o = trace()
        .args(["ingest", input.to_str().unwrap(), "--quiet", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("invalid utf-8"), "{stderr}");
}

#[test]
fn a_huge_kernel_name_is_capped_so_memory_stays_bounded() {
    // The most launched kernel of mini gets a 1 MiB name: every one of its rows would
    // carry it (1.2 GB RSS before the cap).
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("long.sqlite");
    std::fs::copy(fixture("nsys/mini.sqlite"), &input).unwrap();
    let conn = Connection::open(&input).unwrap();
    let (id, launches): (i64, i64) = conn
        .query_row(
            "SELECT shortName, count(*) AS n FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY shortName ORDER BY n DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let huge = "k".repeat(1 << 20);
    conn.execute(
        "UPDATE StringIds SET value = ?1 WHERE id = ?2",
        rusqlite::params![huge, id],
    )
    .unwrap();
    drop(conn);
    let out = dir.path().join("out");
    let summary = ingest::run(&config(vec![input], &out)).unwrap();
    assert_eq!(summary.kernels, 4888, "no kernel is dropped");
    let kernels = read_table(&out, "kernels", "long");
    let names = kernels
        .column_by_name("name")
        .unwrap()
        .as_any()
        .downcast_ref::<datafusion::arrow::array::StringArray>()
        .unwrap();
    let capped: Vec<&str> = names
        .iter()
        .flatten()
        .filter(|n| n.starts_with("kkkk"))
        .collect();
    assert_eq!(capped.len() as i64, launches);
    let marker = format!("…[+{} bytes]", (1 << 20) - ingest::sanity::MAX_NAME_BYTES);
    assert!(capped
        .iter()
        .all(|n| n.len() == ingest::sanity::MAX_NAME_BYTES + marker.len() && n.ends_with(&marker)));
}

/// 40,000 kernels share one capped 64 KiB name (2.6 GB as a plain string column,
/// past Arrow's 2 GiB offsets): the name is a dictionary column, stored once.
#[test]
fn many_kernels_sharing_a_huge_name_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("shared.sqlite");
    std::fs::copy(fixture("nsys/mini.sqlite"), &input).unwrap();
    let conn = Connection::open(&input).unwrap();
    let id: i64 = conn
        .query_row(
            "SELECT shortName FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY shortName ORDER BY count(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE StringIds SET value = ?1 WHERE id = ?2",
        rusqlite::params!["k".repeat(1 << 20), id],
    )
    .unwrap();
    conn.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET demangledName = shortName WHERE shortName = ?1",
        [id],
    )
    .unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('CUPTI_ACTIVITY_KIND_KERNEL')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let shifted: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "start" | "end" => format!("{c} + ?1"),
            "correlationId" => format!("{c} + 100000000 * ?2"),
            other => other.to_string(),
        })
        .collect();
    let copy = format!(
        "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL ({}) SELECT {} FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE shortName = {id} AND correlationId < 100000000",
        columns.join(", "),
        shifted.join(", ")
    );
    let base: i64 = conn
        .query_row(
            "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE shortName = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    let mut round = 1;
    while conn
        .query_row(
            "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE shortName = ?1",
            [id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        < 40_000
    {
        conn.execute(&copy, rusqlite::params![round * 10_000_000_000i64, round])
            .unwrap();
        round += 1;
    }
    let shared: i64 = conn
        .query_row(
            "SELECT count(*) FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE shortName = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    assert!(shared >= 40_000 && base > 0);
    let out = dir.path().join("out");
    let summary = ingest::run(&config(vec![input], &out)).unwrap();
    assert_eq!(summary.kernels as i64, 4888 - base + shared);
    let part = out.join("kernels/run=shared/part-shared.parquet");
    let bytes = std::fs::metadata(&part).unwrap().len();
    assert!(
        bytes < 8 << 20,
        "{bytes} bytes: the name is not stored once"
    );
    let reader = sgl_trace::query::reader::Reader::open(&out).unwrap();
    let rows = reader
        .rows(
            "SELECT count(*) AS n, max(length(name)) AS longest FROM kernels WHERE name LIKE 'kkkk%'",
            "test",
        )
        .unwrap();
    assert_eq!(rows.i64s("n").unwrap(), vec![Some(shared)]);
    let marker = format!("…[+{} bytes]", (1 << 20) - ingest::sanity::MAX_NAME_BYTES);
    assert_eq!(
        rows.i64s("longest").unwrap(),
        vec![Some(
            (ingest::sanity::MAX_NAME_BYTES + marker.chars().count()) as i64
        )]
    );
}

/// One kernel row with a value its column cannot hold costs that row, named by
/// its column, never the whole file.
#[test]
fn an_out_of_range_cell_costs_its_row_and_names_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("range.sqlite");
    std::fs::copy(fixture("nsys/mini.sqlite"), &input).unwrap();
    let conn = Connection::open(&input).unwrap();
    conn.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET gridX = 1099511627776 WHERE rowid = (SELECT min(rowid) FROM CUPTI_ACTIVITY_KIND_KERNEL)",
        [],
    )
    .unwrap();
    drop(conn);
    let summary = ingest::run(&config(vec![input], &dir.path().join("out"))).unwrap();
    assert_eq!(summary.kernels, 4887);
    let reason = summary
        .survey
        .skipped
        .keys()
        .find(|r| r.starts_with("kernel row with a value out of range"))
        .unwrap_or_else(|| panic!("{:?}", summary.survey.skipped));
    assert!(reason.contains("gridX"), "{reason}");
}

/// Rowids far apart (found by fuzzing: 60 kernel rows up to rowid 3.4e10 took 7
/// minutes, one empty chunk query per 1,024 rowids; 60 API rows up to 2.4e10, 35 s
/// of empty range scans): both tables are read in ranges sized by their row count,
/// and every kernel is read and labelled.
#[test]
fn sparse_kernel_rowids_are_read_in_few_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sparse.sqlite");
    std::fs::copy(fixture("nsys/mini.sqlite"), &input).unwrap();
    let conn = Connection::open(&input).unwrap();
    conn.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_KERNEL SET rowid = rowid * 10000000 + 1000000000000",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE CUPTI_ACTIVITY_KIND_RUNTIME SET rowid = rowid * 10000000 + 1000000000000",
        [],
    )
    .unwrap();
    drop(conn);
    let summary = ingest::run(&config(vec![input], &dir.path().join("out"))).unwrap();
    assert_eq!((summary.kernels, summary.labelled), (4888, 3810));
}
