//! Bad input: one-line actionable errors, exit code 1, and nothing half-written —
//! an earlier ingest of the same run stays exactly as it was.

use std::path::Path;

use crate::common::{files_under, fixture, run_ok, trace};

/// Runs `trace ingest` expecting failure; returns the error line.
fn ingest_fails(args: &[&str], env_path: Option<&str>) -> String {
    let mut cmd = trace();
    cmd.arg("ingest").args(args);
    if let Some(path) = env_path {
        cmd.env("PATH", path).env_remove("TRACE_NSYS");
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

fn no_parquet(dir: &Path) {
    let left: Vec<_> = files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn each_bad_input_gets_a_clear_error_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out");
    let out_s = out.to_str().unwrap();

    std::fs::write(d.join("notes.sqlite"), "hello, not a database\n").unwrap();
    let e = ingest_fails(
        &[d.join("notes.sqlite").to_str().unwrap(), "--out", out_s],
        None,
    );
    assert!(
        e.contains("notes.sqlite") && e.contains("nsys export"),
        "{e}"
    );

    let foreign = d.join("foreign.sqlite");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (a)")
        .unwrap();
    let e = ingest_fails(&[foreign.to_str().unwrap(), "--out", out_s], None);
    assert!(
        e.contains("foreign.sqlite") && e.contains("not an Nsight Systems export"),
        "{e}"
    );

    let bytes = std::fs::read(fixture("nsys/mini.sqlite")).unwrap();
    for cut in [100, bytes.len() / 2] {
        let truncated = d.join(format!("cut{cut}.sqlite"));
        std::fs::write(&truncated, &bytes[..cut]).unwrap();
        let e = ingest_fails(&[truncated.to_str().unwrap(), "--out", out_s], None);
        assert!(e.contains("corrupt or truncated"), "{e}");
    }

    std::fs::write(d.join("empty.sqlite"), "").unwrap();
    let e = ingest_fails(
        &[d.join("empty.sqlite").to_str().unwrap(), "--out", out_s],
        None,
    );
    assert!(e.contains("empty"), "{e}");

    std::fs::write(d.join("trace.json"), r#"{"traceEvents": [{"ph": "X""#).unwrap();
    let e = ingest_fails(
        &[d.join("trace.json").to_str().unwrap(), "--out", out_s],
        None,
    );
    assert!(
        e.contains("trace.json") && e.contains("truncated JSON"),
        "{e}"
    );

    std::fs::write(d.join("other.json"), r#"{"rows": [1, 2]}"#).unwrap();
    let e = ingest_fails(
        &[d.join("other.json").to_str().unwrap(), "--out", out_s],
        None,
    );
    assert!(
        e.contains("not a PyTorch-profiler (Kineto) chrome trace"),
        "{e}"
    );

    let gz = std::fs::read(fixture("kineto/tp2_rank0.kineto.json.gz")).unwrap();
    std::fs::write(d.join("cut.json.gz"), &gz[..gz.len() / 2]).unwrap();
    let e = ingest_fails(
        &[d.join("cut.json.gz").to_str().unwrap(), "--out", out_s],
        None,
    );
    assert!(e.contains("cut.json.gz"), "{e}");

    std::fs::write(d.join("a-file"), "").unwrap();
    let mini = fixture("nsys/mini.sqlite");
    let e = ingest_fails(
        &[
            mini.to_str().unwrap(),
            "--out",
            d.join("a-file/sub").to_str().unwrap(),
        ],
        None,
    );
    assert!(e.contains("--out"), "{e}");

    let e = ingest_fails(
        &[
            mini.to_str().unwrap(),
            mini.to_str().unwrap(),
            "--out",
            out_s,
        ],
        None,
    );
    assert!(e.contains("given twice"), "{e}");

    std::fs::write(d.join("report.nsys-rep"), "not really").unwrap();
    let e = ingest_fails(
        &[d.join("report.nsys-rep").to_str().unwrap(), "--out", out_s],
        Some("/nonexistent"),
    );
    assert!(e.contains("nsys") && e.contains("--nsys"), "{e}");

    no_parquet(&out);
}

#[test]
fn failed_ingest_keeps_the_previous_run_intact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();
    run_ok(trace().args([
        "ingest",
        fixture("nsys/mini.sqlite").to_str().unwrap(),
        "--out",
        out_s,
        "--quiet",
    ]));
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = files_under(&out)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert!(before.len() >= 5);

    let bytes = std::fs::read(fixture("nsys/mini.sqlite")).unwrap();
    let truncated = dir.path().join("mini.sqlite");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    ingest_fails(
        &[
            truncated.to_str().unwrap(),
            "--out",
            out_s,
            "--run-id",
            "mini",
        ],
        None,
    );

    let after: Vec<(std::path::PathBuf, Vec<u8>)> = files_under(&out)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn bad_rules_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("kernels.yaml");
    std::fs::write(&rules, "rules:\n  - {category: gemm, pattern: 'nvjet'}\n  - {category: atention, pattern: 'flash'}\n").unwrap();
    let e = ingest_fails(
        &[
            fixture("nsys/mini.sqlite").to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        e.contains("kernels.yaml:3") && e.contains("atention"),
        "{e}"
    );
}
