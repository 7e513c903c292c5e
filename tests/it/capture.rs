//! `trace capture` without a GPU: composition and commands (`--dry-run`), the
//! errors a user meets first, and result collection with a stand-in interpreter
//! that behaves like the harness (writes latency lines and progress events).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{read_table, root, run_ok, trace};

fn capture(args: &[&str]) -> std::process::Output {
    trace().arg("capture").args(args).output().unwrap()
}

fn fails_with(args: &[&str], needle: &str) {
    let out = capture(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn dry_run_prints_composed_arguments_and_exact_commands() {
    let out = run_ok(trace().args([
        "capture",
        "--model",
        "qwen3_moe",
        "--mconf",
        "2l",
        "--deploy",
        "tp8ep8",
        "--backend",
        "flashinfer",
        "--profile",
        "decode",
        "--grid",
        "1,4;128,512",
        "--dry-run",
        "--nsys",
        "/opt/nsys/bin/nsys",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tp_size = 8  <- conf/deploy/tp8ep8.yaml:2"),
        "{text}"
    );
    assert!(
        text.contains("attention_backend = \"flashinfer\"  <- conf/backend/flashinfer.yaml:1"),
        "{text}"
    );
    assert!(
        text.contains("--tp-size 8 --ep-size 8 --attention-backend flashinfer"),
        "{text}"
    );
    assert!(
        !text.contains("--warmup 2 --iters 5 --profile-phase"),
        "our keys are not SGLang flags"
    );
    assert!(text.contains("/opt/nsys/bin/nsys profile -t cuda,nvtx --cuda-graph-trace=node --trace-fork-before-exec=true --capture-range=cudaProfilerApi"), "{text}");
    assert!(
        text.contains("--engine sglang")
            && text.contains("--profile decode")
            && text.contains("'1;128|1;512|4;128|4;512'"),
        "{text}"
    );
    assert!(text.contains("nsys export --type sqlite"), "{text}");
    assert!(
        !root().join("results/qwen3_moe_profile").exists() || text.contains("# run"),
        "dry run writes nothing"
    );

    // Multi-node: --ip and --rank become dist_init_addr and node_rank.
    let out = run_ok(trace().args([
        "capture",
        "--model",
        "qwen3_moe",
        "--deploy",
        "tp16ep16",
        "--ip",
        "10.1.2.3",
        "--rank",
        "1",
        "--dry-run",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--nnodes 2")
            && text.contains("--dist-init-addr 10.1.2.3:30000 --node-rank 1"),
        "{text}"
    );
}

#[test]
fn first_errors_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    for sub in ["deploy", "backend", "optional"] {
        std::fs::create_dir_all(conf.join(sub)).unwrap();
    }
    std::fs::write(
        conf.join("base.yaml"),
        "load_format: dummy\nmem_fraction_statc: 0.5\n",
    )
    .unwrap();
    std::fs::write(conf.join("deploy/tp1.yaml"), "tp_size: 1\n").unwrap();
    std::fs::write(conf.join("backend/fa3.yaml"), "attention_backend: fa3\n").unwrap();
    std::fs::write(conf.join("grid.csv"), "1;128\n").unwrap();
    let conf_s = conf.to_str().unwrap();
    fails_with(
        &["--model", "llama3", "--conf", conf_s, "--dry-run"],
        "base.yaml:2: unknown key \"mem_fraction_statc\"; did you mean \"mem_fraction_static\"",
    );
    fails_with(
        &["--model", "llama3", "--grid", "1,2;", "--dry-run"],
        "--grid:1: sequence length",
    );
    fails_with(
        &[
            "--model",
            "llama3",
            "--deploy",
            "tp8",
            "--engine",
            "hf",
            "--dry-run",
        ],
        "the hf engine runs on one GPU",
    );
    fails_with(
        &["--model", "llama3", "--backend", "fa4", "--dry-run"],
        "available: fa3, flashinfer, triton",
    );
    fails_with(
        &[
            "--model",
            "llama3",
            "--python",
            "/nonexistent/python3",
            "--results",
            dir.path().join("r").to_str().unwrap(),
        ],
        "cannot run Python",
    );
    let out = trace()
        .args([
            "capture",
            "--model",
            "llama3",
            "--profile",
            "both",
            "--results",
            dir.path().join("r").to_str().unwrap(),
        ])
        .env("PATH", "/usr/bin:/bin")
        .env_remove("TRACE_NSYS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nsys") && stderr.contains("--nsys"),
        "{stderr}"
    );
}

/// A stand-in for python3 that runs no model: it answers `--version`, and for the
/// harness command writes one latency line per (phase, point) and progress events.
const FAKE_PYTHON: &str = r#"#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("Python 3 (stand-in)"); sys.exit(0)
opt = {args[i]: args[i + 1] for i in range(1, len(args) - 1, 2)}
if opt.get("--engine") == "fail":
    sys.stderr.write("RuntimeError: CUDA out of memory\n"); sys.exit(3)
print("TRACE " + json.dumps({"event": "env", "gpu": "NVIDIA H100 80GB HBM3", "gpus": 1, "torch": "stand-in"}))
with open(opt["--out"], "w") as out:
    points = [tuple(map(int, p.split(";"))) for p in opt["--grid"].split("|")]
    for phase in ("prefill", "decode"):
        for b, s in points:
            print("TRACE " + json.dumps({"event": "block", "index": 1, "total": 2, "phase": phase, "bsz": b, "seq": s}))
            ms = 2.0 * b if phase == "prefill" else 1.0
            out.write(json.dumps({"phase": phase, "bsz": b, "seq": s, "rank": 0, "iters": 3, "mean_ms": ms, "p50_ms": ms,
                                  "p90_ms": ms, "min_ms": ms, "max_ms": ms, "samples_ms": [ms] * 3}) + "\n")
"#;

fn fake_python(dir: &Path) -> String {
    let path = dir.join("python3");
    std::fs::write(&path, FAKE_PYTHON).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn results_land_in_the_latency_table_and_benchmark_csv() {
    let dir = tempfile::tempdir().unwrap();
    let python = fake_python(dir.path());
    let results = dir.path().join("results");
    let out = run_ok(trace().args([
        "capture",
        "--model",
        "llama3",
        "--mconf",
        "2l",
        "--engine",
        "hf",
        "--grid",
        "1,2;64",
        "--iters",
        "3",
        "--save",
        "--python",
        &python,
        "--results",
        results.to_str().unwrap(),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4 latency row(s)"), "{stderr}");
    let run_dir = std::fs::read_dir(results.join("llama3_profile"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let run_id = run_dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(run_id.starts_with("llama3-2l-tp1-fa3-hf-"), "{run_id}");
    for file in [
        "model/config.json",
        "trace_harness.py",
        "server_args.json",
        "latency.jsonl",
    ] {
        assert!(run_dir.join(file).is_file(), "{file}");
    }
    let log =
        std::fs::read_to_string(results.join("raw_output").join(format!("{run_id}.log"))).unwrap();
    assert!(
        log.starts_with("$ ") && log.contains("TRACE {\"event\": \"env\""),
        "{log}"
    );
    let latency = read_table(&results.join("parquet"), "latency", &run_id);
    assert_eq!(latency.num_rows(), 4);
    let csv = std::fs::read_to_string(results.join("csv/benchmark.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(
        lines[0].starts_with("run_id,model,mconf,base,deploy,backend,engine,phase,bsz,seq_len"),
        "{csv}"
    );
    assert!(
        lines[1].contains(",llama3,2l,base,tp1,fa3,hf,prefill,1,64,0,3,2.000000"),
        "{csv}"
    );
    let mfu: f64 = lines[1].rsplit(',').next().unwrap().parse().unwrap();
    assert!(
        mfu > 0.0,
        "MFU from the llama3 2l config and the H100 peak: {csv}"
    );
}

#[test]
fn a_failed_run_shows_the_end_of_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let python = fake_python(dir.path());
    // The stand-in fails when asked for engine "fail"; reach it through the YAML-free path:
    // an engine value only the stand-in knows is rejected by clap, so patch the harness call
    // by pointing --python at a wrapper that rewrites the engine.
    let wrapper = dir.path().join("python-fail");
    std::fs::write(&wrapper, format!("#!/bin/sh\n[ \"$1\" = --version ] && exec {python} --version\nshift\nexec {python} x \"$@\" --engine fail\n")).unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = capture(&[
        "--model",
        "llama3",
        "--mconf",
        "2l",
        "--engine",
        "hf",
        "--grid",
        "1;8",
        "--python",
        wrapper.to_str().unwrap(),
        "--results",
        dir.path().join("r").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the capture failed") && stderr.contains("CUDA out of memory"),
        "{stderr}"
    );
}
