//! Whole runs under hostile conditions, through the real `trace` binary: kill -9 at
//! random points of an ingest, eight concurrent writers (same run and different
//! runs) for many rounds, stale staging, colliding run ids. After each, every part
//! of every run must be one ingest's output: `runs.kernels` equals the rows the
//! `kernels` table holds for the run, and the inputs `runs.source_files` names have
//! that many kernels together. Concurrent writers of one part may lose the race
//! (one wins whole, the others fail saying so).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use rusqlite::Connection;
use sgl_trace::query::{self, QueryConfig, QuerySource};

use crate::common::{fixture, trace};
use crate::synthetic::{self, Synth};

/// Two small exports with different kernel counts: `a.sqlite` (4), `b.sqlite` (3).
fn small_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let a = dir.join("a.sqlite");
    let b = dir.join("b.sqlite");
    synthetic::build(&a, Synth::default());
    synthetic::build(&b, Synth::default());
    let c = Connection::open(&b).unwrap();
    c.execute(
        "DELETE FROM CUPTI_ACTIVITY_KIND_KERNEL WHERE rowid = (SELECT max(rowid) FROM CUPTI_ACTIVITY_KIND_KERNEL)",
        [],
    )
    .unwrap();
    (a, b)
}

fn ingest_child(input: &Path, out: &Path, run: &str) -> Child {
    trace()
        .args([
            "ingest",
            input.to_str().unwrap(),
            "--quiet",
            "--run-id",
            run,
        ])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn sql(out: &Path, text: &str) -> Vec<(String, String, i64)> {
    let result = query::execute(&QueryConfig {
        data_dir: out.to_path_buf(),
        source: QuerySource::Sql(text.into()),
        run: None,
        params: Vec::new(),
        queries_dir: None,
    })
    .unwrap();
    let mut rows = Vec::new();
    for batch in &result.batches {
        let a = batch.column(0).as_string::<i32>();
        let b = batch.column(1).as_string::<i32>();
        let n = batch.column(2).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            rows.push((a.value(i).to_string(), b.value(i).to_string(), n.value(i)));
        }
    }
    rows
}

/// Every run's (source files, kernels per `runs`), after checking each run is whole.
fn whole_runs(out: &Path, kernels_of: &BTreeMap<&str, i64>) -> BTreeMap<String, String> {
    let runs = sql(
        out,
        "SELECT run, source_files, kernels FROM runs ORDER BY run",
    );
    let counted: BTreeMap<String, i64> =
        sql(out, "SELECT run, 'x', count(*) FROM kernels GROUP BY run")
            .into_iter()
            .map(|(run, _, n)| (run, n))
            .collect();
    let mut seen = BTreeMap::new();
    for (run, source, kernels) in runs {
        assert_eq!(
            counted.get(&run).copied().unwrap_or(0),
            kernels,
            "run {run} is mixed"
        );
        let parts: Option<i64> = source.split(',').map(|f| kernels_of.get(f)).sum();
        assert_eq!(parts, Some(kernels), "run {run}: {source}");
        seen.insert(run, source);
    }
    seen
}

#[test]
fn kill_9_at_random_points_leaves_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let old = fixture("nsys/mini.sqlite");
    let new = fixture("nsys/mini_range.sqlite");
    let kernels_of = {
        let mut m = BTreeMap::new();
        for (input, name) in [(&old, "mini.sqlite"), (&new, "mini_range.sqlite")] {
            let scratch = dir.path().join(format!("count-{name}"));
            assert!(ingest_child(input, &scratch, "r").wait().unwrap().success());
            let rows = sql(&scratch, "SELECT run, source_files, kernels FROM runs");
            m.insert(name, rows[0].2);
        }
        m
    };
    assert!(ingest_child(&old, &out, "r").wait().unwrap().success());
    // How long a whole ingest takes here, to spread the kills over it.
    let started = Instant::now();
    assert!(ingest_child(&new, &out, "r").wait().unwrap().success());
    let span = started.elapsed().as_micros() as u64 + 1;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let rounds = 16;
    let mut outcomes = BTreeMap::<String, u32>::new();
    for round in 0..rounds {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let input = if round % 2 == 0 { &old } else { &new };
        let mut child = ingest_child(input, &out, "r");
        std::thread::sleep(Duration::from_micros(state % span));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let seen = whole_runs(&out, &kernels_of);
        assert_eq!(seen.len(), 1, "round {round}: the run vanished: {seen:?}");
        *outcomes
            .entry(format!("{} {}", status.success(), seen["r"]))
            .or_default() += 1;
    }
    // The next ingest removes what the killed ones left and commits.
    assert!(ingest_child(&old, &out, "r").wait().unwrap().success());
    let staging: Vec<_> = std::fs::read_dir(out.join(".runs/r"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("staging-"))
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
    eprintln!("kill -9 outcomes (finished, visible source): {outcomes:?}");
}

#[test]
fn eight_concurrent_writers_lose_nothing_and_mix_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (a, b) = small_inputs(dir.path());
    let kernels_of = BTreeMap::from([("a.sqlite", 4), ("b.sqlite", 3)]);
    // Long version: TRACE_STRESS_ROUNDS=1000 cargo test --test it eight_concurrent
    let rounds: usize = std::env::var("TRACE_STRESS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100);
    let started = Instant::now();
    for round in 0..rounds {
        let children: Vec<(String, Child)> = (0..8)
            .map(|w| {
                // Writers 0-3 share one run; 4-7 each own one.
                let run = if w < 4 {
                    "shared".to_string()
                } else {
                    format!("own/{w}")
                };
                let input = if (w + round) % 2 == 0 { &a } else { &b };
                (run.clone(), ingest_child(input, &out, &run))
            })
            .collect();
        let mut winners = BTreeMap::<String, usize>::new();
        for (run, child) in children {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success() || stderr.contains("committed by another writer"),
                "round {round}, run {run}: {stderr}"
            );
            *winners.entry(run).or_default() += usize::from(output.status.success());
        }
        assert!(
            winners.values().all(|&n| n > 0),
            "round {round}: {winners:?}"
        );
        let seen = whole_runs(&out, &kernels_of);
        assert_eq!(seen.len(), 5, "round {round}: {seen:?}");
    }
    eprintln!(
        "{rounds} rounds × 8 writers in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn distinct_run_ids_never_share_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (a, b) = small_inputs(dir.path());
    for (input, id) in [(&a, "exp/1"), (&b, "exp_1"), (&a, "ü"), (&b, "é")] {
        assert!(ingest_child(input, &out, id).wait().unwrap().success());
    }
    let ids = sql(
        &out,
        "SELECT run_id, source_files, kernels FROM runs ORDER BY run_id",
    );
    let ids: Vec<(&str, &str)> = ids
        .iter()
        .map(|(i, s, _)| (i.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("exp/1", "a.sqlite"),
            ("exp_1", "b.sqlite"),
            ("é", "b.sqlite"),
            ("ü", "a.sqlite")
        ]
    );
    // `--run` takes the id as given.
    let result = query::execute(&QueryConfig {
        data_dir: out.clone(),
        source: QuerySource::Sql("SELECT count(*) AS n FROM kernels".into()),
        run: Some("exp/1".into()),
        params: Vec::new(),
        queries_dir: None,
    })
    .unwrap();
    let n = result.batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .value(0);
    assert_eq!(n, 4);
}

#[test]
fn a_long_run_id_is_stored_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (a, _) = small_inputs(dir.path());
    let id = "x".repeat(400);
    let output = ingest_child(&a, &out, &id).wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ids = sql(&out, "SELECT run_id, source_files, kernels FROM runs");
    assert_eq!(ids[0].0, id);
}
