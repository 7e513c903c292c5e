//! Nothing lost, round 2: what a hostile user tried against the promises of
//! docs/SCHEMA.md and docs/MULTI_WRITER.md, one regression test per case, on the
//! real fixtures where the case is about data.

use std::path::Path;

use crate::common::{fixture, ingest, run_ok, trace};

fn dataset(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    ingest(&[fixture("nsys/mini.sqlite")], &data);
    data
}

fn kernels(data: &Path) -> String {
    let out = run_ok(
        trace()
            .args([
                "query",
                "--sql",
                "SELECT count(*) AS n FROM kernels",
                "--format",
                "csv",
                "--data",
            ])
            .arg(data),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `--out` of a reading command never lands inside the dataset (it could replace a
/// live part and break every later query).
#[test]
fn outputs_into_the_dataset_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let part = data.join("kernels/run=mini/part-mini.parquet");
    let before = std::fs::read(&part).unwrap();
    for args in [
        vec![
            "query",
            "--sql",
            "select 1 as x",
            "--format",
            "csv",
            "--out",
        ],
        vec!["query", "top-kernels", "--format", "parquet", "--out"],
        vec!["report", "--out"],
    ] {
        let out = trace()
            .args(&args)
            .arg(&part)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is inside the dataset"), "{args:?}: {err}");
    }
    // Also through a path that only resolves into the dataset.
    let out = trace()
        .args(["query", "--sql", "select 1 as x", "--out"])
        .arg(data.join("runs/../kernels/new.csv"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&part).unwrap(), before);
    assert_eq!(kernels(&data), "n\n4888\n");
}

/// File names that differ only in bytes that are not UTF-8 are two runs, not one
/// that the second silently replaces.
#[cfg(unix)]
#[test]
fn non_utf8_names_stay_distinct_runs() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let a = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xff\xfename.sqlite"));
    let b = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xfe\xffname.sqlite"));
    std::fs::copy(fixture("nsys/mini.sqlite"), &a).unwrap();
    std::fs::copy(fixture("nsys/tp2.sqlite"), &b).unwrap();
    run_ok(trace().arg("ingest").arg(&a).arg("--out").arg(&data));
    run_ok(trace().arg("ingest").arg(&b).arg("--out").arg(&data));
    let out = run_ok(
        trace()
            .args([
                "query",
                "--sql",
                "SELECT run_id, kernels FROM runs ORDER BY kernels",
                "--format",
                "csv",
                "--data",
            ])
            .arg(&data),
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "run_id,kernels\nbad\\xfe\\xffname,1488\nbad\\xff\\xfename,4888\n"
    );
}

/// A parameter value is a literal: a negative number cannot start a comment, a
/// value cannot leave quotes, a numeric parameter takes numbers only.
#[test]
fn parameter_values_stay_literals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = run_ok(
        trace()
            .args([
                "query",
                "--sql",
                "select 2 -${a} + 100 as v",
                "--param",
                "a=-1",
                "--format",
                "csv",
                "--data",
            ])
            .arg(&data),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "v\n103\n");
    for (args, says) in [
        (
            vec![
                "query",
                "--sql",
                "select '${a}' as v",
                "--param",
                "a=x' union select 1 --",
            ],
            "inside quotes",
        ),
        (
            vec!["query", "top-kernels", "--param", "top=abc"],
            "is not a number",
        ),
        (
            vec!["query", "top-kernels", "--queries", "/no/such/dir"],
            "no such directory",
        ),
    ] {
        let out = trace()
            .args(&args)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// A threshold of NaN or inf would make every comparison false: "no regression"
/// for a run twice as slow. Refused.
#[test]
fn non_finite_thresholds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ingest(&[fixture("nsys/mini.sqlite")], &data);
    ingest(&[fixture("nsys/mini_range.sqlite")], &data);
    for args in [
        vec!["diff", "mini", "mini_range", "--floor-ms", "NaN"],
        vec!["diff", "mini", "mini_range", "--gate", "inf"],
        vec!["diff", "mini", "mini_range", "--floor-ms=-1"],
        vec![
            "report",
            "--diff",
            "mini",
            "mini_range",
            "--floor-ms",
            "nan",
        ],
    ] {
        let out = trace()
            .args(&args)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a finite number >= 0"), "{args:?}: {err}");
    }
}

/// A reader that stops after one line (`| head -1`) ends neither a query nor an
/// ingest with an error or a panic: exit 0.
#[test]
fn a_closed_pipe_is_not_a_failure() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    for format in ["table", "csv", "json"] {
        let mut child = trace()
            .args([
                "query",
                "--sql",
                "SELECT * FROM kernels",
                "--format",
                format,
                "--data",
            ])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut child = trace()
        .args(["ingest", "--run-id", "again", "--out"])
        .arg(&data)
        .arg(fixture("nsys/hf_capture.sqlite"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the ingest writes anything: every message meets a broken pipe.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(kernels(&data), "n\n12076\n", "4888 + 7188 kernels");
}
