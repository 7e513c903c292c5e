//! `trace` run as an installed binary would be: from an empty directory, with the
//! shipped files unpacked into a fresh cache, `trace init` copies that win over them,
//! errors that name the flag to use, `TRACE_DATA`, `--version`, completions, the man
//! page and `trace doctor`'s exit codes.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::trace;

/// `trace` in `dir` (an empty folder, not the repository) with its own cache.
fn trace_in(dir: &Path, cache: &Path) -> Command {
    let mut cmd = trace();
    cmd.current_dir(dir)
        .env("TRACE_CACHE_DIR", cache)
        .env_remove("TRACE_DATA");
    cmd
}

fn ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn failed(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{cmd:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_demo_model_and_capture_run_from_an_empty_directory() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = ok(trace_in(dir.path(), cache.path()).arg("demo"));
    assert!(text(&out.stdout).contains("| mini | decode"));
    assert!(dir.path().join("results/parquet/kernels").is_dir());
    let unpacked: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        unpacked.len() == 1 && unpacked[0].starts_with("shipped-"),
        "one complete unpacked folder, no staging left: {unpacked:?}"
    );

    let out = ok(trace_in(dir.path(), cache.path()).args(["model", "params", "--model", "llama3"]));
    assert!(text(&out.stdout).contains("llama3 (llama, 32 layers)"));

    let out = ok(trace_in(dir.path(), cache.path()).args([
        "capture",
        "--model",
        "qwen3_moe",
        "--mconf",
        "2l",
        "--dry-run",
    ]));
    let plan = text(&out.stdout);
    assert!(plan.contains("conf/base.yaml:"), "{plan}");
    assert!(plan.contains("-fa3-sglang-"), "{plan}");
}

#[test]
fn an_hf_run_id_does_not_claim_an_sglang_backend() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = ok(trace_in(dir.path(), cache.path()).args([
        "capture",
        "--engine",
        "hf",
        "--model",
        "llama3",
        "--mconf",
        "2l",
        "--dry-run",
    ]));
    let first = text(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(first.starts_with("# run llama3-2l-tp1-hf-"), "{first}");
    assert!(!first.contains("fa3"), "{first}");
}

#[test]
fn init_writes_copies_that_win_and_are_kept() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let here = dir.path();
    ok(trace_in(here, cache.path()).args(["init", "."]));
    for rel in [
        "conf/base.yaml",
        "conf/kernels.yaml",
        "model_conf/llama3/config_full.json",
        "queries/kernels-by-phase.sql",
        "fixtures/nsys/mini.sqlite",
    ] {
        assert!(here.join(rel).is_file(), "{rel}");
    }
    let config = here.join("model_conf/llama3/config_full.json");
    let edited = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"num_hidden_layers\": 32", "\"num_hidden_layers\": 4");
    std::fs::write(&config, &edited).unwrap();
    let params =
        |cmd: &mut Command| text(&ok(cmd.args(["model", "params", "--model", "llama3"])).stdout);
    assert!(params(&mut trace_in(here, cache.path())).contains("llama3 (llama, 4 layers)"));

    let out = ok(trace_in(here, cache.path()).args(["init", "."]));
    assert!(text(&out.stderr).contains("kept"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    ok(trace_in(here, cache.path()).args(["init", ".", "--force"]));
    assert!(params(&mut trace_in(here, cache.path())).contains("llama3 (llama, 32 layers)"));
}

#[test]
fn a_missing_file_names_the_flag_that_points_elsewhere() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let err =
        failed(trace_in(dir.path(), cache.path()).args(["model", "params", "--model", "nosuch"]));
    assert!(
        err.contains("--model-dir") && err.contains("llama3"),
        "{err}"
    );
    let err = failed(trace_in(dir.path(), cache.path()).args([
        "model",
        "params",
        "--model",
        "llama3",
        "--model-dir",
        "elsewhere",
    ]));
    assert!(err.contains("--model-dir elsewhere: no such file"), "{err}");
    let err = failed(trace_in(dir.path(), cache.path()).args([
        "capture",
        "--model",
        "llama3",
        "--conf",
        "elsewhere",
        "--dry-run",
    ]));
    assert!(err.contains("--conf elsewhere"), "{err}");
    let err = failed(trace_in(dir.path(), cache.path()).args([
        "capture",
        "--model",
        "llama3",
        "--deploy",
        "tp9",
        "--dry-run",
    ]));
    assert!(
        err.contains("available:") && err.contains("--conf"),
        "{err}"
    );
}

#[test]
fn trace_data_names_the_dataset_root_and_empty_answers_say_why() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = dir.path().join("elsewhere");
    ok(trace_in(dir.path(), cache.path())
        .env("TRACE_DATA", &data)
        .arg("demo"));
    assert!(data.join("kernels").is_dir());
    assert!(!dir.path().join("results").exists());
    let out = ok(trace_in(dir.path(), cache.path())
        .env("TRACE_DATA", &data)
        .args(["query", "runs", "--format", "csv"]));
    assert_eq!(text(&out.stdout).lines().count(), 3, "header and two runs");
    let out = ok(trace_in(dir.path(), cache.path())
        .env("TRACE_DATA", &data)
        .args(["query", "mfu"]));
    assert!(text(&out.stdout).contains("(0 rows)"));
    assert!(
        text(&out.stderr).contains("--model M --mconf C"),
        "{}",
        text(&out.stderr)
    );
    // A flag still wins over the variable.
    let err = failed(
        trace_in(dir.path(), cache.path())
            .env("TRACE_DATA", &data)
            .args(["query", "runs", "--data", "missing"]),
    );
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn version_completions_and_man_page() {
    let out = ok(trace().arg("--version"));
    let version = text(&out.stdout);
    let commit = version
        .split("commit ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{version}"
    );
    assert!(version.contains(&format!(
        "dataset schema {}",
        sgl_trace::dataset::schema::DATASET_SCHEMA_VERSION
    )));
    for (shell, marker) in [
        ("bash", "_trace()"),
        ("zsh", "#compdef trace"),
        ("fish", "complete -c trace"),
    ] {
        let out = ok(trace().args(["completions", shell]));
        let script = text(&out.stdout);
        assert!(
            script.contains(marker) && script.contains("doctor"),
            "{shell}"
        );
    }
    let man = text(&ok(trace().arg("man")).stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH trace"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains("capture") && man.contains("ingest"));
}

#[test]
fn doctor_says_what_is_missing_and_for_what() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let missing_nsys = ["doctor", "--nsys", "/nonexistent/nsys"];
    let out = trace_in(dir.path(), cache.path())
        .args(missing_nsys)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "capture needs nsys");
    let answer = text(&out.stdout);
    assert!(answer.contains("MISSING  nsys"), "{answer}");
    assert!(answer.contains("TRACE_NSYS"), "{answer}");
    assert!(answer.contains("ready for analysis"), "{answer}");
    assert!(answer.contains("not ready for capture"), "{answer}");
    ok(trace_in(dir.path(), cache.path())
        .args(missing_nsys)
        .args(["--for", "analysis"]));
}
