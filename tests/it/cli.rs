//! The binary end to end: ingest prints its summary, query prints tables, the
//! README demo works from a fresh directory.

use crate::common::{fixture, root, run_ok, trace};

#[test]
fn ingest_then_query_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("parquet");
    let ingest = run_ok(trace().args([
        "ingest",
        fixture("nsys/tp2.sqlite").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ]));
    let summary = String::from_utf8_lossy(&ingest.stderr);
    assert!(summary.contains("labelled        1104"), "{summary}");
    assert!(summary.contains("communication"), "{summary}");

    let table = run_ok(trace().args(["query", "overlap", "--data", out.to_str().unwrap()]));
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("| tp2 | 0      | prefill"), "{table}");

    let csv = run_ok(trace().args([
        "query",
        "--sql",
        "SELECT count(*) AS n FROM kernels WHERE category = 'communication'",
        "--format",
        "csv",
        "--data",
        out.to_str().unwrap(),
    ]));
    assert_eq!(String::from_utf8_lossy(&csv.stdout), "n\n256\n");

    let parquet = dir.path().join("k.parquet");
    run_ok(trace().args([
        "query",
        "kernels-by-phase",
        "--format",
        "parquet",
        "--out",
        parquet.to_str().unwrap(),
        "--data",
        out.to_str().unwrap(),
    ]));
    assert!(parquet.is_file());

    let missing = trace()
        .args([
            "query",
            "kernels-by-phase",
            "--format",
            "parquet",
            "--data",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn list_shows_every_query_with_its_description() {
    let out = run_ok(trace().args(["query", "--list"]));
    let text = String::from_utf8_lossy(&out.stdout);
    // The top-level files are the shipped questions; report/ and diff/ hold the
    // report's and the diff's own (not listed).
    for entry in std::fs::read_dir(root().join("queries")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        assert!(line.len() > name.len() + 10, "{line}");
    }
}

#[test]
fn demo_runs_on_the_shipped_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("parquet");
    let demo = run_ok(trace().args(["demo", "--out", out.to_str().unwrap()]));
    let text = String::from_utf8_lossy(&demo.stdout);
    assert!(
        text.contains("| mini | decode") && text.contains("| tp2  | prefill"),
        "{text}"
    );
}

/// Without the `cluster` feature, the cluster entry points say how to get it.
#[cfg(not(feature = "cluster"))]
#[test]
fn a_build_without_ballista_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["cluster", "scheduler", "--port", "1"],
        vec!["query", "runs", "--cluster", "df://127.0.0.1:1", "--data"],
    ] {
        let mut cmd = trace();
        cmd.args(&args);
        if args[0] == "query" {
            cmd.arg(dir.path());
            std::fs::create_dir_all(dir.path()).unwrap();
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("--features cluster"), "{args:?}: {stderr}");
    }
}
