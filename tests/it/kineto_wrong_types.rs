//! Property: a Kineto trace with fields of the wrong type still ingests everything
//! else. Any field of any event (annotation, runtime call, kernel, memcpy) replaced by
//! a value of another JSON type — a bool, an array, an object, text that is no
//! number, a fraction where an integer belongs — never refuses the file; only the
//! events whose identity (`ph`, `cat`, `ts`; `dur` of a kernel, copy or range)
//! was spoiled are lost, every other event
//! lands unchanged, and each spoiled field the importer reads is counted by name. A
//! number written as a string (`"bytes": "256"`, as ROCm writes) reads as the number.

use std::collections::BTreeSet;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::{fixture, ingest, read_table};

const KERNELS: usize = 4;

/// A small valid trace: one labelled step, four kernel launches and one copy.
fn base_events() -> Vec<Value> {
    let mut events = vec![json!({
        "ph": "X", "cat": "user_annotation", "name": "decode|bsz=2|seq=8|iter=0",
        "pid": 1, "tid": 1, "ts": 100.0, "dur": 200.0
    })];
    for i in 0..=KERNELS {
        let memcpy = i == KERNELS;
        let correlation = i as i64 + 1;
        events.push(json!({
            "ph": "X", "cat": "cuda_runtime",
            "name": if memcpy { "cudaMemcpyAsync" } else { "cudaLaunchKernel" },
            "pid": 1, "tid": 1, "ts": 110.0 + 10.0 * i as f64, "dur": 2.0,
            "args": {"correlation": correlation}
        }));
        let mut gpu = json!({
            "ph": "X", "cat": if memcpy { "gpu_memcpy" } else { "kernel" },
            "name": if memcpy { "Memcpy DtoD (Device -> Device)".to_string() } else { format!("kernel_{i}") },
            "pid": 0, "tid": 7, "ts": 400.0 + 10.0 * i as f64, "dur": 5.0,
            "args": {"correlation": correlation, "device": 0, "stream": 7, "bytes": 256}
        });
        if !memcpy {
            let args = gpu["args"].as_object_mut().unwrap();
            args.insert("grid".into(), json!([1, 1, 1]));
            args.insert("block".into(), json!([32, 1, 1]));
            args.insert("registers per thread".into(), json!(16));
            args.insert("shared memory".into(), json!(0));
        }
        events.push(gpu);
    }
    events
}

/// Fields of an event, as `key` or `args.key`.
fn fields(event: &Value) -> Vec<String> {
    let mut out: Vec<String> = event.as_object().unwrap().keys().cloned().collect();
    if let Some(args) = event["args"].as_object() {
        out.extend(args.keys().map(|k| format!("args.{k}")));
    }
    out
}

/// The wrong values a writer might put anywhere.
fn wrong_value(kind: u8) -> Value {
    match kind % 6 {
        0 => json!(true),
        1 => json!([1, "x"]),
        2 => json!({"nested": [1]}),
        3 => json!("not a number"),
        4 => json!(2.5),
        _ => json!("12abc"),
    }
}

/// Whether `value` is of the wrong type for `field` (a fraction is fine where a
/// float belongs; a string is fine where a string belongs).
fn is_wrong(field: &str, value: &Value) -> bool {
    if field == "args" {
        return !value.is_object();
    }
    let text_field = matches!(field, "ph" | "cat" | "name");
    let float_field = matches!(field, "ts" | "dur");
    match value {
        Value::String(_) => !text_field,
        Value::Number(_) => text_field || !float_field,
        _ => true,
    }
}

fn set(event: &mut Value, field: &str, value: Value) {
    match field.strip_prefix("args.") {
        Some(key) => event["args"][key] = value,
        None => event[field] = value,
    }
}

fn ingest_events(events: &[Value]) -> (sgl_trace::ingest::Summary, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    std::fs::write(
        &path,
        json!({"schemaVersion": 1, "traceEvents": events}).to_string(),
    )
    .unwrap();
    let out = dir.path().join("out");
    (ingest(&[path], &out), dir)
}

/// Kernel rows of an ingest as (start_ns, name).
fn kernel_rows(dir: &std::path::Path, run: &str) -> BTreeSet<(i64, String)> {
    let kernels = read_table(&dir.join("out"), "kernels", run);
    let start = kernels
        .column_by_name("start_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    let name = kernels.column_by_name("name").unwrap().as_string::<i32>();
    (0..kernels.num_rows())
        .map(|i| (start.value(i), name.value(i).to_string()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn wrong_typed_fields_lose_nothing_else(
        picks in proptest::collection::btree_map(0usize..10, (any::<prop::sample::Index>(), any::<u8>()), 1..6)
    ) {
        let base = base_events();
        let mut events = base.clone();
        let mut spoiled_identity = BTreeSet::new();
        let mut counted = 0u64;
        for (&index, (field, kind)) in &picks {
            let index = index % events.len();
            let names = fields(&base[index]);
            let field = field.get(&names).clone();
            let value = wrong_value(*kind);
            let wrong = is_wrong(&field, &value);
            set(&mut events[index], &field, value);
            // Any other `ph` or `cat` makes it another kind of event.
            let cat = base[index]["cat"].as_str().unwrap();
            // A kernel, copy or range without a usable `dur` has no interval: lost.
            let spans = cat != "cuda_runtime";
            if matches!(field.as_str(), "ph" | "cat")
                || (field == "ts" && wrong)
                || (field == "dur" && wrong && spans)
            {
                spoiled_identity.insert(index);
            }
            if !wrong {
                continue;
            }
            let read = match field.as_str() {
                "ph" | "pid" | "tid" => false,
                "cat" | "name" | "ts" | "dur" | "args" => true,
                "args.correlation" => true,
                _ => matches!(cat, "kernel" | "gpu_memcpy"),
            };
            counted += u64::from(read && !matches!(field.as_str(), "ph" | "cat"));
        }
        let (summary, dir) = ingest_events(&events);
        // Every kernel whose identity is intact is there, with its start and name
        // (an emptied name stays the one field lost).
        let kept = kernel_rows(dir.path(), &summary.run_id);
        for (index, event) in base.iter().enumerate() {
            if event["cat"] != "kernel" || spoiled_identity.contains(&index) {
                continue;
            }
            let start = (events[index]["ts"].as_f64().unwrap() * 1000.0).round() as i64;
            let name = events[index]["name"].as_str().unwrap_or_default().to_string();
            prop_assert!(kept.contains(&(start, name.clone())), "kernel {index} ({start}, {name}) missing from {kept:?}");
        }
        let lost = (0..base.len()).filter(|i| base[*i]["cat"] == "kernel" && spoiled_identity.contains(i)).count();
        prop_assert_eq!(summary.kernels as usize, KERNELS - lost);
        let wrong_type: u64 = summary
            .survey
            .skipped
            .iter()
            .filter(|(reason, _)| reason.contains("of an unexpected type"))
            .map(|(_, n)| n)
            .sum();
        // Spoiled identities may hide the fields after them; the rest are counted.
        if spoiled_identity.is_empty() {
            prop_assert_eq!(wrong_type, counted, "{:?}", summary.survey.skipped);
        }
    }
}

/// Numbers written as strings (ROCm's runtime events: `"bytes": "256"`,
/// `"stream": "0x0"`) read as the numbers: the same rows as the plain trace, counted.
#[test]
fn numbers_as_strings_read_as_numbers() {
    let base = base_events();
    let mut texts = base.clone();
    for event in &mut texts {
        for field in fields(event) {
            let value = match field.as_str() {
                "args.correlation" | "args.device" | "args.bytes" => {
                    json!(event["args"][&field[5..]].to_string())
                }
                "args.stream" => {
                    json!(format!("0x{:x}", event["args"]["stream"].as_i64().unwrap()))
                }
                _ => continue,
            };
            set(event, &field, value);
        }
    }
    let (plain, plain_dir) = ingest_events(&base);
    let (text, text_dir) = ingest_events(&texts);
    assert_eq!(
        kernel_rows(plain_dir.path(), &plain.run_id),
        kernel_rows(text_dir.path(), &text.run_id)
    );
    assert_eq!(
        (text.kernels, text.labelled, text.memops),
        (plain.kernels, plain.labelled, plain.memops)
    );
    assert_eq!(text.labelled, KERNELS as u64);
    assert!(text
        .survey
        .skipped
        .keys()
        .any(|reason| reason.starts_with("Kineto number `args.bytes` written as a string")));
}

/// ROCm 6.2's Kineto format (HolisticTraceAnalysis's MI250 test trace): string
/// sizes and hex streams on runtime calls, HIP launches; every kernel lands.
#[test]
fn an_older_rocm_trace_ingests() {
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest(
        &[fixture("public/hta_mi250_rocm62_train.json.gz")],
        dir.path(),
    );
    assert_eq!(summary.kernels, 14);
    let kernels = read_table(dir.path(), "kernels", &summary.run_id);
    let api = kernels.column_by_name("api").unwrap().as_string::<i32>();
    assert!((0..kernels.num_rows()).all(|i| api.value(i).starts_with("hip")));
    assert!(
        !summary
            .survey
            .skipped
            .keys()
            .any(|r| r.contains("unexpected type")),
        "{:?}",
        summary.survey.skipped
    );
}
