//! PyTorch-profiler (Kineto) traces fill the same tables as nsys exports.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};

use crate::common::{fixture, ingest, kernels_by_shape, read_table};

/// (phase, bsz, seq) → (kernels, summed ns) over labelled kernels.
fn by_shape(kernels: &RecordBatch) -> BTreeMap<(String, i32, i32), (u64, i64)> {
    kernels_by_shape(kernels)
        .into_iter()
        .filter_map(|(k, v)| Some((k?, v)))
        .collect()
}

#[test]
fn kineto_and_nsys_captures_of_one_workload_agree() {
    let out = tempfile::tempdir().unwrap();
    let k = ingest(&[fixture("kineto/mini.kineto.json.gz")], out.path());
    let n = ingest(&[fixture("nsys/mini.sqlite")], out.path());
    assert_eq!((k.kernels, k.labelled), (n.kernels, n.labelled));
    let kineto = by_shape(&read_table(out.path(), "kernels", "mini.kineto"));
    let nsys = by_shape(&read_table(out.path(), "kernels", "mini"));
    assert_eq!(kineto.len(), 8);
    assert_eq!(kineto[&("prefill".to_string(), 1, 128)].0, 783);
    for (shape, (count, ns)) in &nsys {
        let (k_count, k_ns) = kineto[shape];
        assert_eq!(k_count, *count, "{shape:?}");
        let diff = (k_ns - ns).abs() as f64 / *ns as f64;
        assert!(diff < 0.02, "{shape:?}: kineto {k_ns} ns vs nsys {ns} ns");
    }
    // Categories come from the same rules: identical counts per category.
    let cats = |s: &sgl_trace::ingest::Summary| {
        s.by_category
            .iter()
            .map(|(c, (n, _))| (*c, *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(cats(&k), cats(&n));
    // Decode steps replayed from a CUDA graph are attributed through cudaGraphLaunch.
    let steps = read_table(out.path(), "steps", "mini.kineto");
    let graph = steps
        .column_by_name("graph_kernels")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(graph.values().iter().sum::<i64>(), 672);
}

#[test]
fn tensor_parallel_ranks_make_one_run() {
    let out = tempfile::tempdir().unwrap();
    let s = ingest(
        &[
            fixture("kineto/tp2_rank0.kineto.json.gz"),
            fixture("kineto/tp2_rank1.kineto.json.gz"),
        ],
        out.path(),
    );
    assert!(s.survey.warnings.is_empty(), "{:?}", s.survey.warnings);
    assert_eq!(s.labelled, 1104);
    assert_eq!(s.by_category["communication"].0, 256);
    let runs = read_table(out.path(), "runs", "tp2_rank0.kineto");
    assert_eq!(
        runs.column_by_name("gpus")
            .unwrap()
            .as_primitive::<Int32Type>()
            .value(0),
        2
    );
    assert_eq!(
        runs.column_by_name("source_format")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "kineto"
    );
    let kernels = read_table(out.path(), "kernels", "tp2_rank0.kineto");
    let name = kernels.column_by_name("name").unwrap().as_string::<i32>();
    let category = kernels
        .column_by_name("category")
        .unwrap()
        .as_string::<i32>();
    let nccl: Vec<usize> = (0..kernels.num_rows())
        .filter(|&i| name.value(i).starts_with("ncclDevKernel_AllReduce"))
        .collect();
    assert_eq!(nccl.len(), 256);
    assert!(nccl.iter().all(|&i| category.value(i) == "communication"));
}

#[test]
fn the_same_trace_twice_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("again.json.gz");
    std::fs::copy(fixture("kineto/tp2_rank0.kineto.json.gz"), &copy).unwrap();
    let s = ingest(
        &[fixture("kineto/tp2_rank0.kineto.json.gz"), copy],
        &dir.path().join("out"),
    );
    assert!(
        s.survey.warnings.iter().any(|w| w.contains("same trace")),
        "{:?}",
        s.survey.warnings
    );
    assert!(
        s.survey.warnings.iter().any(|w| w.contains("rank 0")),
        "{:?}",
        s.survey.warnings
    );
}

#[test]
fn a_trace_without_kernels_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cpu.json");
    std::fs::write(
        &path,
        r#"{"schemaVersion": 1, "traceEvents": [{"ph": "X", "cat": "user_annotation", "name": "prefill|bsz=1|seq=8|iter=0", "pid": 5, "tid": 5, "ts": 10.0, "dur": 5.0}]}"#,
    )
    .unwrap();
    let mut cfg = crate::common::config(vec![path], &dir.path().join("out"));
    cfg.meta.rank = Some(3);
    let s = sgl_trace::ingest::run(&cfg).unwrap();
    assert_eq!((s.kernels, s.steps), (0, 1));
    let runs = read_table(&dir.path().join("out"), "runs", "cpu");
    assert_eq!(
        runs.column_by_name("ranks")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "3",
        "--rank fills in"
    );
    assert!(
        s.survey
            .warnings
            .iter()
            .any(|w| w.contains("no GPU kernels")),
        "{:?}",
        s.survey.warnings
    );
}

/// A Kineto trace with one stream capture (a kernel launch that calls a driver
/// launch, then a memset) inside an attention module, and three replays: one of
/// the capture's two ops, one of three ops, one over two streams.
fn graph_trace() -> String {
    let host = |cat: &str, name: &str, ts: f64, dur: f64, corr: i64| {
        format!(
            r#"{{"ph":"X","cat":"{cat}","name":"{name}","pid":1,"tid":2,"ts":{ts:.3},"dur":{dur:.3},"args":{{"correlation":{corr}}}}}"#
        )
    };
    let gpu = |cat: &str, ts: f64, corr: i64, stream: i64| {
        let name = match cat {
            "kernel" => "void at::native::vectorized_elementwise_kernel<4>(int)",
            _ => "Memset (Device)",
        };
        format!(
            r#"{{"ph":"X","cat":"{cat}","name":"{name}","pid":0,"tid":{stream},"ts":{ts:.3},"dur":0.100,"args":{{"correlation":{corr},"device":0,"stream":{stream}}}}}"#
        )
    };
    let events = [
        host(
            "user_annotation",
            "module:model.layers.0.self_attn:Qwen3MoeAttention",
            1.5,
            1.5,
            0,
        ),
        host("cuda_runtime", "cudaStreamBeginCapture", 1.0, 0.1, 1),
        host("cuda_runtime", "cudaLaunchKernel", 2.0, 0.2, 2),
        host("cuda_driver", "cuLaunchKernel", 2.05, 0.1, 3),
        host("cuda_runtime", "cudaMemsetAsync", 2.5, 0.1, 4),
        host("cuda_runtime", "cudaStreamEndCapture", 3.5, 0.5, 5),
        host(
            "user_annotation",
            "decode|bsz=1|seq=16|iter=0",
            10.0,
            10.0,
            0,
        ),
        host("cuda_runtime", "cudaGraphLaunch", 11.0, 0.5, 20),
        gpu("kernel", 12.0, 20, 7),
        gpu("gpu_memset", 12.5, 20, 7),
        host("cuda_runtime", "cudaGraphLaunch", 14.0, 0.5, 21),
        gpu("kernel", 14.5, 21, 7),
        gpu("kernel", 14.7, 21, 7),
        gpu("gpu_memset", 14.9, 21, 7),
        host("cuda_runtime", "cudaGraphLaunch", 17.0, 0.5, 22),
        gpu("kernel", 17.5, 22, 7),
        gpu("gpu_memset", 17.7, 22, 8),
    ];
    format!(r#"{{"traceEvents":[{}]}}"#, events.join(","))
}

#[test]
fn graph_replays_take_the_module_of_their_capture_or_say_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("graph.json");
    std::fs::write(&path, graph_trace()).unwrap();
    let summary = ingest(&[path], &dir.path().join("out"));
    let kernels = read_table(&dir.path().join("out"), "kernels", "graph");
    let text = |c: &str| {
        let col = kernels.column_by_name(c).unwrap().as_string::<i32>();
        (0..kernels.num_rows())
            .map(|i| col.is_valid(i).then(|| col.value(i).to_string()))
            .collect::<Vec<_>>()
    };
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        text("module"),
        vec![s("model.layers.0.self_attn"), None, None, None]
    );
    assert_eq!(
        text("category"),
        vec![
            s("attention"),
            s("elementwise"),
            s("elementwise"),
            s("elementwise")
        ]
    );
    assert_eq!(text("launch"), vec![s("graph"); 4]);
    assert_eq!(
        kernels
            .column_by_name("graph_node_id")
            .unwrap()
            .null_count(),
        4
    );
    let count = |reason: &str| {
        summary
            .fallbacks
            .iter()
            .find(|(r, _)| r.contains(reason))
            .map(|(_, n)| *n)
    };
    assert_eq!(summary.fallbacks.len(), 2, "{:?}", summary.fallbacks);
    assert_eq!(count("no earlier capture of the same op count"), Some(2));
    assert_eq!(count("over several streams"), Some(1));
}
