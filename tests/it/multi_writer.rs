//! Many writers, one run, through the real `trace` binary: eight concurrent ingest
//! processes (one per rank file) must leave exactly what one ingest of all eight
//! files leaves, byte for byte in every shipped query's answer and in every table
//! file, also when re-ingests race; two concurrent writers of the same part: one
//! wins whole, the other fails saying so.
//!
//! The eight rank files are made from the two real rank traces
//! `fixtures/kineto/tp2_rank{0,1}` by [`rank_files`]: copy `c` (0..4) of rank `r`
//! becomes rank `R = 2c + r` of a world of 8 — `distributedInfo.rank = R`,
//! `world_size = 8`, a distinct `trace_id`, device lanes and `args.device` shifted by
//! `2c` (mod 16, so rank R runs on GPU R), host pids shifted by `1000·c` — and is
//! written as `rank<R>.json`.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{files_under, fixture, run_ok, trace};

const RUN: &str = "tp8";

/// Device lanes of a Kineto trace (pids below this are GPUs, above are host pids).
const LANES: i64 = 16;

/// The eight rank files described in the module docs, under `dir`.
pub fn rank_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for copy in 0..4i64 {
        for rank in 0..2i64 {
            let source = fixture(&format!("kineto/tp2_rank{rank}.kineto.json.gz"));
            let reader = flate2::read::GzDecoder::new(std::fs::File::open(source).unwrap());
            let mut trace: Value = serde_json::from_reader(reader).unwrap();
            let new_rank = 2 * copy + rank;
            let shift_pid = |pid: &mut Value| {
                if let Some(p) = pid.as_i64() {
                    *pid = Value::from(if (0..LANES).contains(&p) {
                        (p + 2 * copy) % LANES
                    } else {
                        p + 1000 * copy
                    });
                }
            };
            let info = &mut trace["distributedInfo"];
            info["rank"] = Value::from(new_rank);
            info["world_size"] = Value::from(8);
            let id = trace["trace_id"].as_str().unwrap_or_default().to_string();
            trace["trace_id"] = Value::from(format!("{id}-{new_rank}"));
            for event in trace["traceEvents"].as_array_mut().unwrap() {
                if let Some(pid) = event.get_mut("pid") {
                    shift_pid(pid);
                }
                if let Some(device) = event.pointer_mut("/args/device") {
                    if let Some(d) = device.as_i64() {
                        *device = Value::from((d + 2 * copy) % LANES);
                    }
                }
            }
            let path = dir.join(format!("rank{new_rank}.json"));
            std::fs::write(&path, serde_json::to_vec(&trace).unwrap()).unwrap();
            files.push(path);
        }
    }
    files.sort();
    files
}

fn ingest(inputs: &[PathBuf], out: &Path) -> Child {
    trace()
        .arg("ingest")
        .args(inputs)
        .args(["--quiet", "--run-id", RUN])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

fn must_succeed(child: Child) {
    let output = finish(child);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The names of every shipped query.
fn shipped_queries() -> Vec<String> {
    let out = run_ok(trace().args(["query", "--list"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Each shipped query's exit status and CSV answer on `data`.
fn answers(data: &Path) -> Vec<(String, bool, Vec<u8>)> {
    shipped_queries()
        .into_iter()
        .map(|name| {
            let out = trace()
                .args(["query", &name, "--format", "csv", "--data"])
                .arg(data)
                .output()
                .unwrap();
            (name, out.status.success(), out.stdout)
        })
        .collect()
}

/// Every visible table file of the run (through the `run=` links) with its bytes.
fn table_files(data: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for table in std::fs::read_dir(data).unwrap().flatten() {
        let name = table.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        for file in files_under(&table.path().join(format!("run={RUN}"))) {
            let rel = file.strip_prefix(data).unwrap().display().to_string();
            files.push((rel, std::fs::read(&file).unwrap()));
        }
    }
    files.sort();
    files
}

fn assert_same_run(single: &Path, merged: &Path, what: &str) {
    let expected = answers(single);
    assert!(
        expected.iter().filter(|(_, ok, _)| *ok).count() >= 8,
        "most shipped queries answer on the fixture run: {expected:?}"
    );
    for (want, got) in expected.iter().zip(answers(merged)) {
        assert_eq!(
            (&want.0, want.1),
            (&got.0, got.1),
            "{what}: query {}",
            want.0
        );
        assert!(
            want.2 == got.2,
            "{what}: query {} answers differently:\n{}\nvs\n{}",
            want.0,
            String::from_utf8_lossy(&want.2),
            String::from_utf8_lossy(&got.2)
        );
    }
    let (want, got) = (table_files(single), table_files(merged));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&want), names(&got), "{what}: table files");
    for (w, g) in want.iter().zip(&got) {
        assert!(w.1 == g.1, "{what}: {} differs", w.0);
    }
}

#[test]
fn eight_rank_ingests_equal_one_ingest_of_all_files() {
    let dir = tempfile::tempdir().unwrap();
    let ranks = rank_files(dir.path());
    let single = dir.path().join("single");
    must_succeed(ingest(&ranks, &single));

    let merged = dir.path().join("merged");
    let writers: Vec<Child> = ranks
        .iter()
        .rev()
        .map(|rank| ingest(std::slice::from_ref(rank), &merged))
        .collect();
    writers.into_iter().for_each(must_succeed);
    assert_same_run(&single, &merged, "eight concurrent ingests");
    let runs = run_ok(
        trace()
            .args([
                "query",
                "--sql",
                "SELECT gpus, ranks, source_files FROM runs",
            ])
            .args(["--format", "csv", "--data"])
            .arg(&merged),
    );
    let runs = String::from_utf8_lossy(&runs.stdout).to_string();
    assert!(runs.contains("8,\"0,1,2,3,4,5,6,7\""), "{runs}");

    // Re-ingests racing: one writer re-ingests ranks 0-3 together while four others
    // re-ingest ranks 4-7 one each; every part is replaced, none is lost.
    let mut writers = vec![ingest(&ranks[..4], &merged)];
    writers.extend(
        ranks[4..]
            .iter()
            .map(|rank| ingest(std::slice::from_ref(rank), &merged)),
    );
    writers.into_iter().for_each(must_succeed);
    assert_same_run(&single, &merged, "racing re-ingests");
}

#[test]
fn two_writers_of_one_part_one_wins_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ranks = rank_files(dir.path());
    // Two different files that are both part `rank0` of the run.
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    std::fs::copy(&ranks[0], first.join("rank0.json")).unwrap();
    std::fs::copy(&ranks[1], second.join("rank0.json")).unwrap();
    let candidates = [first.join("rank0.json"), second.join("rank0.json")];

    let out = dir.path().join("out");
    must_succeed(ingest(&ranks[2..3], &out));
    // Hold the run's commit lock as a live writer would, so that both writers have
    // staged their part before either can commit.
    let run_dir = out.join(".runs").join(RUN);
    let lock = run_dir.join("lock");
    std::fs::create_dir(&lock).unwrap();
    let host = sgl_trace::dataset::lock::hostname();
    std::fs::write(
        lock.join("owner"),
        format!("{host}\n{}\ntest\n", std::process::id()),
    )
    .unwrap();
    let writers: Vec<Child> = candidates
        .iter()
        .map(|c| ingest(std::slice::from_ref(c), &out))
        .collect();
    let started = Instant::now();
    while staged_records(&run_dir) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "writers never staged"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&lock).unwrap();
    let outputs: Vec<Output> = writers.into_iter().map(finish).collect();
    let won: Vec<usize> = (0..2).filter(|&i| outputs[i].status.success()).collect();
    assert_eq!(won.len(), 1, "exactly one writer wins: {outputs:?}");
    let loser = &outputs[1 - won[0]];
    let message = String::from_utf8_lossy(&loser.stderr);
    assert!(
        message.contains("committed by another writer") && message.lines().count() <= 3,
        "{message}"
    );
    assert_eq!(loser.status.code(), Some(1));

    // The run is the winner's part `rank0` and the earlier part `rank2`, whole.
    let expected = dir.path().join("expected");
    must_succeed(ingest(
        &[candidates[won[0]].clone(), ranks[2].clone()],
        &expected,
    ));
    assert_same_run(&expected, &out, "after the race for one part");
}

/// Staging directories of the run that hold their part records (ready to commit).
fn staged_records(run_dir: &Path) -> usize {
    std::fs::read_dir(run_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("staging-"))
                .filter(|e| e.path().join(".parts/rank0.json").exists())
                .count()
        })
        .unwrap_or(0)
}
