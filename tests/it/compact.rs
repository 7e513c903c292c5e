//! Compacted summaries answer exactly what the runs' own files answer: after
//! `trace compact`, after a run is re-ingested with other rows (read from its files
//! until the next compaction), after a run is removed, with `--run`, and with a
//! damaged newest compact file; and `trace ingest` compacts once enough runs are new.

use std::path::{Path, PathBuf};

use crate::common::{fixture, ingest, run_ok, trace};

const QUESTIONS: &[&[&str]] = &[
    &["categories-by-shape"],
    &["categories-by-shape", "--by", "name"],
    &["kernels-by-phase"],
    &["kernels-by-phase", "--by", "name"],
    &["coverage"],
    &["categories-by-shape", "--run", "mini"],
    &["coverage", "--run", "tp2"],
];

fn query(data: &Path, args: &[&str]) -> String {
    let out = run_ok(
        trace()
            .args(["query", "--format", "csv", "--data"])
            .arg(data)
            .args(args),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The answers to `questions` read from the runs' own files (the compacted ones
/// moved aside for the while).
fn from_files(data: &Path, questions: &[&[&str]]) -> Vec<String> {
    let compact = data.join(".compact");
    let aside = data.with_extension("aside");
    let moved = compact.exists();
    if moved {
        std::fs::rename(&compact, &aside).unwrap();
    }
    let answers = questions.iter().map(|q| query(data, q)).collect();
    if moved {
        std::fs::rename(&aside, &compact).unwrap();
    }
    answers
}

fn assert_same_answers(data: &Path, expected: &[String], when: &str) {
    for (question, expected) in QUESTIONS.iter().zip(expected) {
        assert_eq!(&query(data, question), expected, "{when}: {question:?}");
    }
}

fn compact(data: &Path) -> String {
    let out = run_ok(trace().args(["compact", "--data"]).arg(data));
    String::from_utf8(out.stderr).unwrap()
}

/// Whether the session reads `shape_categories` of some run from a compacted file.
fn reads_compacted(data: &Path, run: Option<&str>) -> bool {
    let mut args = vec!["--sql", "EXPLAIN SELECT sum(kernels) FROM shape_categories"];
    if let Some(run) = run {
        args.extend(["--run", run]);
    }
    query(data, &args).contains(".compact/shape_categories-")
}

fn dataset(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    for input in [
        "nsys/mini.sqlite",
        "nsys/tp2.sqlite",
        "nsys/hf_modules_graph.sqlite",
        "kineto/hf.kineto.json.gz",
    ] {
        ingest(&[fixture(input)], &data);
    }
    data
}

#[test]
fn compacted_summaries_answer_as_the_runs_files_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let expected = from_files(&data, QUESTIONS);
    assert!(!reads_compacted(&data, None));

    let said = compact(&data);
    assert!(
        said.contains("compacted the summaries of 4 runs (4 rolled up"),
        "{said}"
    );
    assert!(reads_compacted(&data, None) && reads_compacted(&data, Some("mini")));
    assert_same_answers(&data, &expected, "compacted");
    let said = compact(&data);
    assert!(said.contains("up to date"), "{said}");

    // Run `mini` re-ingested with other rows: read from its files, the others
    // still from the compacted file.
    let mut config = crate::common::config(vec![fixture("nsys/mini_range.sqlite")], &data);
    config.run_id = Some("mini".into());
    sgl_trace::ingest::run(&config).unwrap();
    let before = expected;
    let expected = from_files(&data, QUESTIONS);
    assert_ne!(expected[5], before[5], "the re-ingested run has other rows");
    assert!(reads_compacted(&data, None) && !reads_compacted(&data, Some("mini")));
    assert_same_answers(&data, &expected, "one run newer than the compacted file");
    let said = compact(&data);
    assert!(said.contains("4 runs (1 rolled up"), "{said}");
    assert_same_answers(&data, &expected, "compacted again");

    // A removed run is gone from the answers though its rows are in the file.
    run_ok(
        trace()
            .args(["remove", "--run", "tp2", "--data"])
            .arg(&data),
    );
    let expected: Vec<String> = QUESTIONS[..6].iter().map(|q| query(&data, q)).collect();
    assert!(!expected[0].contains("tp2") && expected[0].contains("mini"));
    assert_eq!(from_files(&data, &QUESTIONS[..6]), expected);

    // A damaged newest file is passed over for the one before.
    std::fs::write(
        data.join(".compact/shape_categories-9.parquet"),
        b"not parquet",
    )
    .unwrap();
    assert!(reads_compacted(&data, None));
    assert_eq!(query(&data, QUESTIONS[0]), expected[0]);
}

#[test]
fn ingest_compacts_once_enough_runs_are_new() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ingest_cli = |input: &str, run: &str| {
        let out = run_ok(
            trace()
                .env("TRACE_COMPACT_AFTER", "3")
                .args(["ingest", "--quiet", "--run-id", run, "--out"])
                .arg(&data)
                .arg(fixture(input)),
        );
        String::from_utf8(out.stderr).unwrap()
    };
    for run in ["a", "b"] {
        let said = ingest_cli("nsys/tp2.sqlite", run);
        assert!(!said.contains("compacted"), "{said}");
    }
    assert!(!reads_compacted(&data, None));
    let said = ingest_cli("nsys/mini.sqlite", "c");
    assert!(said.contains("compacted the summaries of 3 runs"), "{said}");
    assert!(reads_compacted(&data, None));
    let expected = from_files(&data, &QUESTIONS[..5]);
    for (question, expected) in QUESTIONS[..5].iter().zip(&expected) {
        assert_eq!(&query(&data, question), expected, "{question:?}");
    }
}
