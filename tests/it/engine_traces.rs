//! Traces users already have: real public SGLang and vLLM profiler traces on AMD
//! MI300X and NVIDIA B300 (`fixtures/public/tracelens_*`, origin in
//! `fixtures/README.md`), read with the engines' own step markers. Each trace's
//! steps are labelled exactly as its marker says, at most 5 % of its GPU time is
//! `other`, and printed per trace (`cargo test engine_traces -- --nocapture`).
//! A decode trace whose graphs were captured in another file gets the capture's
//! modules (and decoder-layer indices) when both are ingested as one run.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};

use crate::common::{fixture, ingest, read_table, run_ok, trace};

/// A public engine trace and the steps its markers must give.
struct EngineTrace {
    files: &'static [&'static str],
    gpu: &'static str,
    engine: &'static str,
    /// (phase, bsz, seq, prefill_tokens, decode_tokens, kv_tokens) of every step.
    steps: &'static [Step],
    /// TraceLens's `execute_…` wraps SGLang's own `step[…]` in these traces.
    wrapped: bool,
}

/// A stored `steps` row: phase, bsz, seq, prefill_tokens, decode_tokens, kv_tokens.
type StoredStep = (
    String,
    i32,
    Option<i32>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

type Step = (
    &'static str,
    i32,
    Option<i32>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

const TRACES: &[EngineTrace] = &[
    EngineTrace {
        files: &["public/tracelens_sglang_qwen3_30b_a3b_mi300x_decode.json.gz"],
        gpu: "MI300X",
        engine: "SGLang, Qwen3-30B-A3B (MoE)",
        // step[DECODE bs=16] inside execute_16_context_0(…)_generation_16(sq16sk8193…)
        steps: &[("decode", 16, Some(1), Some(0), Some(16), None)],
        wrapped: true,
    },
    EngineTrace {
        files: &["public/tracelens_sglang_qwen3_30b_a3b_b300_decode.json.gz"],
        gpu: "B300",
        engine: "SGLang, Qwen3-30B-A3B (MoE)",
        steps: &[("decode", 16, Some(1), Some(0), Some(16), None)],
        wrapped: true,
    },
    EngineTrace {
        files: &["public/tracelens_sglang_dense_mi300x_decode.json.gz"],
        gpu: "MI300X",
        engine: "SGLang, dense model",
        steps: &[("decode", 16, Some(1), Some(0), Some(16), None)],
        wrapped: true,
    },
    EngineTrace {
        files: &["public/tracelens_sglang_dense_b300_decode.json.gz"],
        gpu: "B300",
        engine: "SGLang, dense model",
        steps: &[("decode", 16, Some(1), Some(0), Some(16), None)],
        wrapped: true,
    },
    EngineTrace {
        files: &["public/tracelens_sglang_qwen3_8b_mi300x_prefill.json.gz"],
        gpu: "MI300X",
        engine: "SGLang, Qwen3-8B, eager prefill",
        // step[EXTEND bs=15 toks=15360]
        steps: &[("prefill", 15, Some(1024), Some(15360), Some(0), None)],
        wrapped: true,
    },
    EngineTrace {
        files: &[
            "public/tracelens_sglang_qwen3_8b_mi300x_capture_bs32.json.gz",
            "public/tracelens_sglang_qwen3_8b_mi300x_decode.json.gz",
        ],
        gpu: "MI300X",
        engine: "SGLang, Qwen3-8B, HIP-graph decode + its capture",
        steps: &[("decode", 32, Some(1), Some(0), Some(32), None)],
        wrapped: true,
    },
    EngineTrace {
        files: &["public/tracelens_vllm_gptoss_mi300x_decode.json.gz"],
        gpu: "MI300X",
        engine: "vLLM V1, gpt-oss, FULL graph decode",
        // execute_32_context_0(sq0sk0sqsq0sqsk0)_generation_32(sq32sk55086sqsq32sqsk55086)
        steps: &[("decode", 32, Some(1), Some(0), Some(32), Some(55086))],
        wrapped: false,
    },
    EngineTrace {
        files: &["public/tracelens_vllm_gptoss_mi300x_mixed.json.gz"],
        gpu: "MI300X",
        engine: "vLLM V1, gpt-oss, chunked prefill + decode",
        // execute_8192_context_9(sq8155sk8430…)_generation_37(sq37sk34489…)
        steps: &[("mixed", 46, Some(179), Some(8155), Some(37), Some(42919))],
        wrapped: false,
    },
];

/// The `steps` rows of a run as [`Step`]s (one row per step and device).
fn steps_of(steps: &RecordBatch) -> Vec<StoredStep> {
    let string = |name: &str| {
        steps
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .clone()
    };
    let int32 = |name: &str| {
        steps
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Int32Type>()
            .clone()
    };
    let int64 = |name: &str| {
        steps
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone()
    };
    let (phase, bsz, seq) = (string("phase"), int32("bsz"), int32("seq"));
    let (prefill, decode, kv) = (
        int64("prefill_tokens"),
        int64("decode_tokens"),
        int64("kv_tokens"),
    );
    let opt32 = |a: &datafusion::arrow::array::Int32Array, i| (!a.is_null(i)).then(|| a.value(i));
    let opt64 = |a: &datafusion::arrow::array::Int64Array, i| (!a.is_null(i)).then(|| a.value(i));
    (0..steps.num_rows())
        .map(|i| {
            (
                phase.value(i).to_string(),
                bsz.value(i),
                opt32(&seq, i),
                opt64(&prefill, i),
                opt64(&decode, i),
                opt64(&kv, i),
            )
        })
        .collect()
}

#[test]
fn engine_markers_label_every_step_and_leave_little_other() {
    println!(
        "{:<62} {:<6} {:<46} {:<28} {:>8} {:>9} {:>7} {:>8}",
        "trace", "gpu", "engine", "steps", "kernels", "labelled%", "other%", "module%"
    );
    for trace in TRACES {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<_> = trace.files.iter().map(|f| fixture(f)).collect();
        let summary = ingest(&inputs, dir.path());
        let share = |ns: i64| 100.0 * ns as f64 / summary.kernel_ns as f64;
        let other = share(summary.by_category.get("other").map_or(0, |e| e.1));
        let module = share(summary.by_source.get("module").map_or(0, |e| e.1));
        let labelled = share(summary.labelled_ns);
        let name = trace.files.last().unwrap();
        let shapes: Vec<String> = summary.shapes.keys().map(|s| s.label()).collect();
        println!(
            "{:<62} {:<6} {:<46} {:<28} {:>8} {:>9.2} {:>7.2} {:>8.2}",
            name,
            trace.gpu,
            trace.engine,
            shapes.join("; "),
            summary.kernels,
            labelled,
            other,
            module
        );
        assert!(other <= 5.0, "{name}: other {other:.2} % of GPU time");
        assert!(
            labelled >= 90.0,
            "{name}: labelled {labelled:.2} % of GPU time"
        );
        let stored = steps_of(&read_table(dir.path(), "steps", &summary.run_id));
        let want: Vec<_> = trace
            .steps
            .iter()
            .map(|s| (s.0.to_string(), s.1, s.2, s.3, s.4, s.5))
            .collect();
        assert_eq!(stored, want, "{name}");
        let wrappers = summary
            .survey
            .skipped
            .iter()
            .find(|(reason, _)| reason.starts_with("step label enclosing another"))
            .map_or(0, |(_, n)| *n);
        assert_eq!(
            wrappers,
            u64::from(trace.wrapped) * trace.steps.len() as u64,
            "{name}"
        );
        assert!(
            !summary
                .survey
                .warnings
                .iter()
                .any(|w| w.contains("`other`")),
            "{name}: {:?}",
            summary.survey.warnings
        );
    }
}

/// SGLang profiles its graph captures apart from the steps that replay them. Alone,
/// the decode trace's replayed kernels fall back to names; ingested with its
/// capture file as one run, every replayed kernel takes the module open when its
/// node was captured, with the decoder layer PyTorch's module events number.
#[test]
fn graph_replays_take_modules_from_the_capture_file() {
    let decode = fixture("public/tracelens_sglang_qwen3_8b_mi300x_decode.json.gz");
    let capture = fixture("public/tracelens_sglang_qwen3_8b_mi300x_capture_bs32.json.gz");
    let alone = tempfile::tempdir().unwrap();
    let summary = ingest(std::slice::from_ref(&decode), alone.path());
    let module = |s: &sgl_trace::ingest::Summary| {
        100.0 * s.by_source.get("module").map_or(0, |e| e.1) as f64 / s.kernel_ns as f64
    };
    assert!(module(&summary) < 5.0, "alone: {:.2} %", module(&summary));
    assert!(summary
        .fallbacks
        .keys()
        .any(|reason| reason.contains("no earlier capture")));

    let both = tempfile::tempdir().unwrap();
    let summary = ingest(&[capture, decode], both.path());
    assert!(
        module(&summary) > 99.0,
        "with the capture: {:.2} %",
        module(&summary)
    );
    // The capture file has no steps: it does not "claim" the step file's rank.
    assert!(
        summary.survey.warnings.is_empty(),
        "{:?}",
        summary.survey.warnings
    );
    let kernels = read_table(both.path(), "kernels", &summary.run_id);
    let launch = kernels.column_by_name("launch").unwrap().as_string::<i32>();
    let source = kernels
        .column_by_name("category_source")
        .unwrap()
        .as_string::<i32>();
    let layer = kernels
        .column_by_name("layer")
        .unwrap()
        .as_primitive::<Int32Type>();
    let mut layers = BTreeSet::new();
    let mut graph = 0;
    for i in 0..kernels.num_rows() {
        if launch.value(i) != "graph" {
            continue;
        }
        graph += 1;
        assert_eq!(source.value(i), "module", "replayed kernel {i}");
        if !layer.is_null(i) {
            layers.insert(layer.value(i));
        }
    }
    assert_eq!(graph, 544);
    // Qwen3-8B has 36 decoder layers: `nn.Module: Qwen3DecoderLayer_0` … `_35`.
    assert_eq!(layers, (0..36).collect::<BTreeSet<i32>>());
}

/// The two category axes: by block, the QKV projection GEMM of an attention block is
/// `attention`; by name alone, it is `gemm`.
#[test]
fn name_category_is_the_kind_of_work_wherever_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest(
        &[fixture(
            "public/tracelens_sglang_qwen3_8b_mi300x_prefill.json.gz",
        )],
        dir.path(),
    );
    let kernels = read_table(dir.path(), "kernels", &summary.run_id);
    let name = kernels.column_by_name("name").unwrap().as_string::<i32>();
    let block = kernels
        .column_by_name("category")
        .unwrap()
        .as_string::<i32>();
    let kind = kernels
        .column_by_name("name_category")
        .unwrap()
        .as_string::<i32>();
    let module = kernels
        .column_by_name("module_class")
        .unwrap()
        .as_string::<i32>();
    let mut qkv = 0;
    for i in 0..kernels.num_rows() {
        if module.is_valid(i)
            && module.value(i) == "QKVParallelLinear"
            && name.value(i).starts_with("Cijk_")
        {
            assert_eq!((block.value(i), kind.value(i)), ("attention", "gemm"));
            qkv += 1;
        }
    }
    assert_eq!(qkv, 36, "one QKV GEMM per layer");
}

/// `trace query categories-by-shape --by block|name` on the same run: the same time
/// per step, regrouped. By block the QKV and output projections count as attention;
/// by name they are GEMM work, so GEMM grows by what attention loses.
#[test]
fn queries_group_by_either_category() {
    let dir = tempfile::tempdir().unwrap();
    ingest(
        &[fixture(
            "public/tracelens_sglang_qwen3_8b_mi300x_prefill.json.gz",
        )],
        dir.path(),
    );
    let ask = |by: &str| -> Vec<(String, f64)> {
        let out = run_ok(
            trace()
                .args([
                    "query",
                    "categories-by-shape",
                    "--by",
                    by,
                    "--format",
                    "csv",
                    "--data",
                ])
                .arg(dir.path()),
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert!(lines.next().is_none(), "one shape");
        header
            .into_iter()
            .zip(row.iter().map(|v| v.parse().unwrap_or(f64::NAN)))
            .collect()
    };
    let value =
        |rows: &[(String, f64)], column: &str| rows.iter().find(|(c, _)| c == column).unwrap().1;
    let (block, name) = (ask("block"), ask("name"));
    assert_eq!(value(&block, "total_ms"), value(&name, "total_ms"));
    let moved = value(&block, "attention_ms") - value(&name, "attention_ms");
    assert!(
        moved > 0.0,
        "attention by block {block:?} vs by name {name:?}"
    );
    let gained = value(&name, "gemm_ms") - value(&block, "gemm_ms");
    assert!(
        gained > 0.0 && gained <= moved + 1e-3,
        "{block:?} vs {name:?}"
    );
    let bad = trace()
        .args([
            "query",
            "categories-by-shape",
            "--param",
            "by=kind",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not one of block, name"));
}

/// A step whose marker states no token counts (`step[MIXED bs=4]`) has a null `seq`
/// and still shows in the report's breakdown, beside the decode step.
#[test]
fn a_step_without_seq_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = vec![
        serde_json::json!({"ph": "X", "cat": "user_annotation", "name": "step[MIXED bs=4]", "pid": 1, "tid": 1, "ts": 100, "dur": 100}),
        serde_json::json!({"ph": "X", "cat": "user_annotation", "name": "step[DECODE bs=4]", "pid": 1, "tid": 1, "ts": 300, "dur": 100}),
    ];
    for (i, t) in [110, 120, 310, 320].into_iter().enumerate() {
        events.push(serde_json::json!({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": t, "dur": 2, "args": {"correlation": i + 1}}));
        events.push(serde_json::json!({"ph": "X", "cat": "kernel", "name": "nvjet_sm90_tst_64x8", "pid": 0, "tid": 7, "ts": t + 500, "dur": 5, "args": {"correlation": i + 1, "device": 0, "stream": 7}}));
    }
    let input = dir.path().join("mixed.json");
    std::fs::write(
        &input,
        serde_json::json!({"traceEvents": events}).to_string(),
    )
    .unwrap();
    let data = dir.path().join("data");
    let summary = ingest(&[input], &data);
    assert_eq!((summary.steps, summary.labelled), (2, 4));
    let reader = sgl_trace::query::reader::Reader::open(&data).unwrap();
    let shapes =
        sgl_trace::report::data::shapes(&reader, "mixed", sgl_trace::vocab::CategoryAxis::Block)
            .unwrap();
    let labels: Vec<String> = shapes.iter().map(|s| s.shape.label()).collect();
    assert_eq!(labels, ["mixed bsz=4", "decode bsz=4 seq=1"]);
}
