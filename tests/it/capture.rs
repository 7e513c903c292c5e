//! `trace capture` without a GPU: composition and commands (`--dry-run`) for each
//! supported SGLang release, the errors a user meets first, and whole captures of
//! the real embedded harness on the CPU stand-in SGLang (python/standin on
//! PYTHONPATH: no torch, no GPU), so a change to the harness's output breaks them.

use std::path::Path;
use std::process::Command;

use datafusion::arrow::array::AsArray;

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
    let scratch = tempfile::tempdir().unwrap();
    let results = scratch.path().join("results");
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
        "--sglang-version",
        "0.5.23",
        "--results",
        results.to_str().unwrap(),
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
        text.contains("# SGLang 0.5.23 (--sglang-version) server arguments, checked against the 0.5.23 flag set"),
        "{text}"
    );
    assert!(
        text.contains("cuda_graph_max_bs (trace capture (largest grid batch)) is cuda_graph_max_bs_decode in SGLang 0.5.23: translated")
            && text.contains("--cuda-graph-max-bs-decode 4"),
        "the CUDA-graph limit follows the grid's largest batch: {text}"
    );
    assert!(!results.exists(), "a dry run writes nothing");

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
        "--run-id",
        "nightly",
        "--profile",
        "both",
        "--dry-run",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--nnodes 2")
            && text.contains("--dist-init-addr 10.1.2.3:30000 --node-rank 1"),
        "{text}"
    );
    assert!(
        text.contains("# run nightly") && text.contains("nightly/node1/report-node1.nsys-rep"),
        "each node writes its own files: {text}"
    );
    fails_with(
        &[
            "--model",
            "qwen3_moe",
            "--deploy",
            "tp16ep16",
            "--ip",
            "10.1.2.3",
            "--dry-run",
        ],
        "needs --run-id NAME, the same on every node",
    );
}

#[test]
fn every_node_of_a_multi_node_capture_adds_its_part_to_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    for entry in crate::common::files_under(&root().join("conf")) {
        let rel = entry.strip_prefix(root().join("conf")).unwrap();
        std::fs::create_dir_all(conf.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&entry, conf.join(rel)).unwrap();
    }
    std::fs::write(conf.join("deploy/tp2n2.yaml"), "tp_size: 2\nnnodes: 2\n").unwrap();
    let results = dir.path().join("results");
    let node = |rank: &str| {
        standin()
            .args(["--model", "llama3", "--mconf", "2l", "--deploy", "tp2n2"])
            .args(["--grid", "1;64", "--iters", "2", "--run-id", "nightly"])
            .args(["--ip", "127.0.0.1", "--rank", rank])
            .arg("--conf")
            .arg(&conf)
            .arg("--results")
            .arg(&results)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let nodes = [node("1"), node("0")];
    for child in nodes {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let latency = read_table(&results.join("parquet"), "latency", "nightly");
    let ranks = latency
        .column_by_name("rank")
        .unwrap()
        .as_primitive::<datafusion::arrow::datatypes::Int32Type>();
    let ranks: std::collections::BTreeSet<i32> = ranks.iter().flatten().collect();
    assert_eq!(
        ranks,
        [0, 1].into(),
        "both nodes' rows are in the run: {latency:?}"
    );
    let parts: Vec<String> = std::fs::read_dir(results.join("parquet/latency/run=nightly"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        parts,
        ["part-latency-node0.parquet", "part-latency-node1.parquet"]
    );
    for rank in ["0", "1"] {
        assert!(results
            .join(format!("llama3_profile/nightly/node{rank}/latency.jsonl"))
            .is_file());
        assert!(results
            .join(format!("raw_output/nightly-node{rank}.log"))
            .is_file());
    }
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
            "--ip",
            "10.1.2.3",
            "--dry-run",
        ],
        "the hf engine runs on one node",
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

#[test]
fn dry_run_composes_for_the_asked_release() {
    let dry = |version: &str, deploy: &str| {
        trace()
            .args([
                "capture",
                "--model",
                "qwen3_moe",
                "--mconf",
                "2l",
                "--deploy",
                deploy,
                "--grid",
                "1,64;128",
                "--dry-run",
                "--sglang-version",
                version,
            ])
            .output()
            .unwrap()
    };
    let out = dry("0.4.10.post2", "tp8ep8dp8");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("--cuda-graph-max-bs 64") && !text.contains("# note: enable_dp_attention"),
        "{text}"
    );
    let text = String::from_utf8_lossy(&dry("0.5.23", "tp8ep8dp8").stdout).to_string();
    assert!(
        text.contains("# note: enable_dp_attention (conf/deploy/tp8ep8dp8.yaml:5) is deprecated in SGLang 0.5.23"),
        "{text}"
    );
    // 0.5.14 is one of the releases whose flags are annotated ServerArgs fields: its
    // own flag set (not a neighbour's) holds every conf key.
    let out = dry("0.5.17", "tp1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("--tp-size 1") && !text.contains("checking against"),
        "{text}"
    );
    // 0.5.14 on keep `--cuda-graph-max-bs` as a deprecated alias of the decode limit:
    // the composed flags use the new name.
    assert!(
        text.contains("--cuda-graph-max-bs-decode 64")
            && text.contains("cuda_graph_max_bs (trace capture (largest grid batch)) is cuda_graph_max_bs_decode in SGLang 0.5.17: translated"),
        "{text}"
    );
    let out = dry("0.5.9.post3", "tp1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no published release of that name") && stderr.contains("0.5.9, 0.5.10,"),
        "{stderr}"
    );
    for bad in ["0.4.9", "0.6.0"] {
        let out = dry(bad, "tp1");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "SGLang {bad} is outside the supported range 0.4.10.post2 .. 0.5.23"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_key_the_release_lacks_is_an_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    for sub in ["deploy", "backend", "optional"] {
        std::fs::create_dir_all(conf.join(sub)).unwrap();
    }
    std::fs::write(conf.join("base.yaml"), "load_format: dummy\n").unwrap();
    std::fs::write(conf.join("deploy/tp1.yaml"), "tp_size: 1\n").unwrap();
    std::fs::write(conf.join("backend/fa3.yaml"), "attention_backend: fa3\n").unwrap();
    std::fs::write(
        conf.join("optional/old.yaml"),
        "enable_ep_moe: true\nenable_nan_detection: true\n",
    )
    .unwrap();
    std::fs::write(conf.join("grid.csv"), "1;128\n").unwrap();
    let args = |version| {
        [
            "--model",
            "llama3",
            "--conf",
            conf.to_str().unwrap(),
            "--optional",
            "old",
            "--dry-run",
            "--sglang-version",
            version,
        ]
        .map(String::from)
    };
    let out = capture(&args("0.4.10.post2").each_ref().map(String::as_str));
    assert!(out.status.success(), "{out:?}");
    fails_with(
        &args("0.5.23").each_ref().map(String::as_str),
        "optional/old.yaml:1: \"enable_ep_moe\" is not a server argument of SGLang 0.5.23",
    );
}

/// `trace` with the CPU stand-in SGLang importable by python3.
fn standin() -> Command {
    let mut cmd = trace();
    cmd.arg("capture")
        .env("PYTHONPATH", root().join("python/standin"))
        .env_remove("TRACE_STANDIN_FAIL")
        .env_remove("TRACE_STANDIN_OOM");
    cmd
}

fn run_dir(results: &Path, model: &str) -> std::path::PathBuf {
    std::fs::read_dir(results.join(format!("{model}_profile")))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn the_embedded_harness_runs_ranks_and_results_land_in_the_latency_table_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let out = run_ok(standin().args([
        "--model",
        "llama3",
        "--mconf",
        "2l",
        "--deploy",
        "tp2",
        "--grid",
        "1,2;64",
        "--iters",
        "3",
        "--save",
        "--results",
        results.to_str().unwrap(),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("8 latency row(s)") && stderr.contains("SGLang 0.5.23"),
        "2 ranks x 2 phases x 2 points: {stderr}"
    );
    let run_dir = run_dir(&results, "llama3");
    let run_id = run_dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(run_id.starts_with("llama3-2l-tp2-fa3-sglang-"), "{run_id}");
    for (file, text) in sgl_trace::capture::HARNESS_FILES {
        assert_eq!(
            std::fs::read_to_string(run_dir.join(file)).unwrap(),
            *text,
            "{file}"
        );
    }
    assert!(run_dir.join("model/config.json").is_file());
    let flags = std::fs::read_to_string(run_dir.join("server_args.json")).unwrap();
    assert!(
        flags.contains("\"--cuda-graph-max-bs-decode\",\n  \"2\""),
        "{flags}"
    );
    let log =
        std::fs::read_to_string(results.join("raw_output").join(format!("{run_id}.log"))).unwrap();
    assert!(
        log.starts_with("$ ")
            && log.contains("# SGLang 0.5.23 (flags checked against the 0.5.23 flag set)"),
        "{log}"
    );
    assert!(
        log.contains(r#"TRACE {"event": "sglang", "version": "0.5.23", "api": "0.5.23", "module": "sglang.benchmark.one_batch", "graph_init": "init_decode_cuda_graph", "standin": true}"#)
            && log.contains(r#""timing": "cpu""#)
            && log.contains(r#"TRACE {"event": "done", "blocks": 4, "skipped": 0}"#),
        "{log}"
    );
    let latency = read_table(&results.join("parquet"), "latency", &run_id);
    assert_eq!(latency.num_rows(), 8);
    let csv = std::fs::read_to_string(results.join("csv/benchmark.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "a header and the 4 rank-0 rows: {csv}");
    assert!(
        lines[0].starts_with("run_id,model,mconf,base,deploy,backend,engine,phase,bsz,seq_len"),
        "{csv}"
    );
    let prefill_rank0 = lines
        .iter()
        .find(|l| l.contains(",llama3,2l,base,tp2,fa3,sglang,prefill,1,64,0,3,"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        prefill_rank0.ends_with(','),
        "no GPU peak for the stand-in, so no MFU: {prefill_rank0}"
    );
}

#[test]
fn a_failed_rank_ends_the_capture_with_its_rank_and_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let out = standin()
        .env("TRACE_STANDIN_FAIL", "1")
        .args([
            "--model",
            "llama3",
            "--mconf",
            "2l",
            "--deploy",
            "tp2",
            "--grid",
            "1;8",
            "--results",
            dir.path().join("r").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the capture failed")
            && stderr.contains("rank 1 (GPU 1) exited with code 1")
            && stderr.contains("stand-in: rank 1 failed to load the model"),
        "{stderr}"
    );
}

#[test]
fn an_out_of_memory_grid_point_is_skipped_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("r");
    let out = run_ok(standin().env("TRACE_STANDIN_OOM", "2").args([
        "--model",
        "llama3",
        "--mconf",
        "2l",
        "--grid",
        "1,2;16",
        "--results",
        results.to_str().unwrap(),
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped: prefill bsz=2 seq=16 on rank 0: out of memory at warm-up")
            && stderr.contains("2 latency row(s)"),
        "{stderr}"
    );
}

#[test]
fn the_installed_release_parses_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    for sub in ["deploy", "backend"] {
        std::fs::create_dir_all(conf.join(sub)).unwrap();
    }
    std::fs::write(conf.join("base.yaml"), "extra_args: ['--no-such-flag']\n").unwrap();
    std::fs::write(conf.join("deploy/tp1.yaml"), "tp_size: 1\n").unwrap();
    std::fs::write(conf.join("backend/fa3.yaml"), "attention_backend: fa3\n").unwrap();
    let out = standin()
        .args([
            "--model",
            "llama3",
            "--conf",
            conf.to_str().unwrap(),
            "--grid",
            "1;8",
            "--results",
            dir.path().join("r").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("SGLang 0.5.23 rejected the server arguments")
            && stderr.contains("--no-such-flag"),
        "{stderr}"
    );
}

#[test]
fn hf_dry_run_passes_ranks_expert_parallel_and_decode_mode_to_the_harness() {
    let scratch = tempfile::tempdir().unwrap();
    let results = scratch.path().join("results");
    let dry = |deploy: &str, extra: &[&str]| {
        let mut cmd = trace();
        cmd.args([
            "capture",
            "--model",
            "qwen3_moe",
            "--mconf",
            "2l",
            "--engine",
            "hf",
        ])
        .args([
            "--deploy",
            deploy,
            "--grid",
            "1;128",
            "--profile",
            "both",
            "--dry-run",
        ])
        .args([
            "--results",
            results.to_str().unwrap(),
            "--nsys",
            "/opt/nsys/bin/nsys",
        ])
        .args(extra);
        String::from_utf8_lossy(&run_ok(&mut cmd).stdout).to_string()
    };
    let text = dry("tp2", &[]);
    assert!(
        text.contains("--engine hf") && text.contains("--tp-size 2 --ep-size 1 --decode graph"),
        "{text}"
    );
    assert!(
        text.contains("--trace-fork-before-exec=true"),
        "ranks are child processes nsys must follow: {text}"
    );
    let text = dry("tp8ep8", &["--eager"]);
    assert!(
        text.contains("--tp-size 8 --ep-size 8 --decode eager"),
        "{text}"
    );
    assert!(!results.exists(), "a dry run writes nothing");
}

/// `TRACE_HARNESS_DIR` replaces the embedded `.py` files (a patched harness without a
/// rebuild): the run directory gets that folder's files, and a folder missing one is an
/// error naming the file.
#[test]
fn a_harness_dir_replaces_the_embedded_python_files() {
    let dir = tempfile::tempdir().unwrap();
    let patched = dir.path().join("harness");
    std::fs::create_dir_all(&patched).unwrap();
    for (file, text) in sgl_trace::capture::HARNESS_FILES {
        std::fs::write(patched.join(file), format!("{text}\n# patched\n")).unwrap();
    }
    let results = dir.path().join("results");
    let args = [
        "--model", "llama3", "--mconf", "2l", "--grid", "1;64", "--iters", "1",
    ];
    let out = run_ok(
        standin()
            .env("TRACE_HARNESS_DIR", &patched)
            .args(args)
            .args(["--results", results.to_str().unwrap()]),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("note: TRACE_HARNESS_DIR: harness file"),
        "{out:?}"
    );
    let run_dir = run_dir(&results, "llama3");
    for (file, text) in sgl_trace::capture::HARNESS_FILES {
        let written = std::fs::read_to_string(run_dir.join(file)).unwrap();
        assert_eq!(
            written.ends_with("# patched\n"),
            file.ends_with(".py"),
            "{file}"
        );
        assert!(written.starts_with(text), "{file}");
    }
    std::fs::remove_file(patched.join("trace_modules.py")).unwrap();
    let out = standin()
        .env("TRACE_HARNESS_DIR", &patched)
        .args(args)
        .args(["--results", results.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("trace_modules.py"), "{stderr}");
}

#[test]
fn engine_markers_are_an_sglang_option() {
    let out = trace()
        .args([
            "capture",
            "--engine",
            "hf",
            "--model",
            "llama3",
            "--mconf",
            "2l",
            "--dry-run",
            "--engine-markers",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "--engine-markers takes SGLang's own layer-wise markers; --engine hf has none"
        ),
        "{stderr}"
    );
}
