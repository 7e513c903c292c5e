//! nsys and Kineto captures of the same workload agree: per (phase, bsz, seq,
//! category), the category's share of the labelled steps' GPU time differs by at
//! most 2 percentage points between the two importers. Printed per pair with
//! `cargo test agreement -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, PrimitiveArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{ArrowPrimitiveType, Int32Type, Int64Type};

use crate::common::{fixture, ingest, read_table};

type Key = (String, i32, i32, String);

/// (nsys export, Kineto trace, phases compared) of one workload, captured in
/// separate processes. Graph decode included: the Kineto importer matches each
/// replay to its stream capture, so replayed kernels get their capture-time
/// module as nsys's node events give them.
pub const PAIRS: &[(&str, &str, &[&str])] = &[
    (
        "nsys/mini.sqlite",
        "kineto/mini.kineto.json.gz",
        &["prefill", "decode"],
    ),
    (
        "nsys/hf_modules_eager.sqlite",
        "kineto/hf_modules_eager.kineto.json.gz",
        &["prefill", "decode"],
    ),
    (
        "nsys/hf_modules_graph.sqlite",
        "kineto/hf_modules_graph.kineto.json.gz",
        &["prefill", "decode"],
    ),
];

/// Most a category's share may differ, in percentage points of the shape's GPU time.
const TOLERANCE_PP: f64 = 2.0;

/// Column `c` of `kernels`, as strings.
fn text_column(kernels: &RecordBatch, c: &str) -> StringArray {
    kernels
        .column_by_name(c)
        .unwrap()
        .as_string::<i32>()
        .clone()
}

/// Column `c` of `kernels`, as integers of type `T`.
fn int_column<T: ArrowPrimitiveType>(kernels: &RecordBatch, c: &str) -> PrimitiveArray<T> {
    kernels
        .column_by_name(c)
        .unwrap()
        .as_primitive::<T>()
        .clone()
}

/// Share of GPU time (%) per (phase, bsz, seq, category) over labelled kernels.
pub fn shares(kernels: &RecordBatch) -> BTreeMap<Key, f64> {
    let text = |c: &str| text_column(kernels, c);
    let int = |c: &str| int_column::<Int32Type>(kernels, c);
    let (phase, category, bsz, seq) = (text("phase"), text("category"), int("bsz"), int("seq"));
    let step = kernels.column_by_name("step").unwrap();
    let dur = kernels
        .column_by_name("dur_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut ns: BTreeMap<Key, i64> = BTreeMap::new();
    let mut totals: BTreeMap<(String, i32, i32), i64> = BTreeMap::new();
    for i in 0..kernels.num_rows() {
        if step.is_null(i) {
            continue;
        }
        let shape = (phase.value(i).to_string(), bsz.value(i), seq.value(i));
        *totals.entry(shape.clone()).or_default() += dur.value(i);
        *ns.entry((shape.0, shape.1, shape.2, category.value(i).to_string()))
            .or_default() += dur.value(i);
    }
    ns.into_iter()
        .map(|(key, ns)| {
            let total = totals[&(key.0.clone(), key.1, key.2)];
            (key, 100.0 * ns as f64 / total as f64)
        })
        .collect()
}

fn stem(file: &str) -> String {
    let name = PathBuf::from(file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    [".sqlite", ".json.gz", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name)
        .to_string()
}

/// Per-key differences of the two importers' shares, largest first.
fn differences(nsys: &str, kineto: &str, phases: &[&str]) -> Vec<(f64, Key, f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    ingest(&[fixture(nsys)], dir.path());
    ingest(&[fixture(kineto)], dir.path());
    let a = shares(&read_table(dir.path(), "kernels", &stem(nsys)));
    let b = shares(&read_table(dir.path(), "kernels", &stem(kineto)));
    let keys: BTreeSet<&Key> = a
        .keys()
        .chain(b.keys())
        .filter(|k| phases.contains(&k.0.as_str()))
        .collect();
    let mut worst: Vec<(f64, Key, f64, f64)> = keys
        .into_iter()
        .map(|k| {
            let (x, y) = (
                a.get(k).copied().unwrap_or(0.0),
                b.get(k).copied().unwrap_or(0.0),
            );
            ((x - y).abs(), k.clone(), x, y)
        })
        .collect();
    worst.sort_by(|p, q| q.0.total_cmp(&p.0));
    worst
}

fn print_worst(nsys: &str, kineto: &str, worst: &[(f64, Key, f64, f64)]) {
    println!("{nsys} vs {kineto}: largest differences (percentage points of the shape's GPU time)");
    for (diff, key, x, y) in worst.iter().take(5) {
        println!(
            "  {:<8} bsz={:<4} seq={:<6} {:<14} nsys {x:>6.2}%  kineto {y:>6.2}%  Δ {diff:.2}",
            key.0, key.1, key.2, key.3
        );
    }
}

/// Per graph replay (correlation id), the module sequence of its kernels in start
/// order (kernel names are not compared: the two captures' cuDNN and CUTLASS
/// picks differ in name); and the GPU ns of graph kernels, all and with a module.
fn graph_replays(kernels: &RecordBatch) -> (BTreeSet<Vec<String>>, i64, i64) {
    let text = |c: &str| text_column(kernels, c);
    let int = |c: &str| int_column::<Int64Type>(kernels, c);
    let (launch, module) = (text("launch"), text("module"));
    let (corr, start, dur) = (int("correlation_id"), int("start_ns"), int("dur_ns"));
    let mut replays: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    let (mut ns, mut with_module) = (0, 0);
    for i in (0..kernels.num_rows()).filter(|&i| launch.value(i) == "graph") {
        let m = (!module.is_null(i)).then(|| module.value(i).to_string());
        ns += dur.value(i);
        with_module += if m.is_some() { dur.value(i) } else { 0 };
        replays
            .entry(corr.value(i))
            .or_default()
            .push((start.value(i), m.unwrap_or_else(|| "-".into())));
    }
    let sequences = replays
        .into_values()
        .map(|mut ks| {
            ks.sort();
            ks.into_iter().map(|(_, m)| m).collect()
        })
        .collect();
    (sequences, ns, with_module)
}

#[test]
fn kineto_graph_replays_take_the_capture_module_kernel_by_kernel_like_nsys() {
    let (nsys, kineto) = (
        "nsys/hf_modules_graph.sqlite",
        "kineto/hf_modules_graph.kineto.json.gz",
    );
    let dir = tempfile::tempdir().unwrap();
    ingest(&[fixture(nsys)], dir.path());
    let summary = ingest(&[fixture(kineto)], dir.path());
    assert!(summary.fallbacks.is_empty(), "{:?}", summary.fallbacks);
    let nsys_kernels = read_table(dir.path(), "kernels", &stem(nsys));
    let kineto_kernels = read_table(dir.path(), "kernels", &stem(kineto));
    let (want, _, _) = graph_replays(&nsys_kernels);
    let (got, ns, with_module) = graph_replays(&kineto_kernels);
    let share = 100.0 * with_module as f64 / ns as f64;
    println!(
        "{kineto}: {} distinct graph replays, {share:.2}% of graph-kernel GPU time has a module",
        got.len()
    );
    assert!(share >= 99.0, "{share:.2}%");
    // Every replay's kernels, in order, carry the modules nsys gives its replays.
    assert!(!got.is_empty());
    assert_eq!(got, want);
    // The synthetic node ids stay internal.
    let nodes = kineto_kernels.column_by_name("graph_node_id").unwrap();
    assert_eq!(nodes.null_count(), kineto_kernels.num_rows());
}

#[test]
fn nsys_and_kineto_agree_per_shape_and_category() {
    for (nsys, kineto, phases) in PAIRS {
        let worst = differences(nsys, kineto, phases);
        assert!(!worst.is_empty(), "{nsys}: no labelled kernels");
        print_worst(nsys, kineto, &worst);
        let (diff, key, x, y) = &worst[0];
        assert!(
            *diff <= TOLERANCE_PP,
            "{nsys} vs {kineto}: {key:?} nsys {x:.2}% vs kineto {y:.2}%"
        );
    }
}
