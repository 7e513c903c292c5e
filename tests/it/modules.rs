//! Module attribution end to end: small nsys exports and Kineto traces built in
//! code with the capture harness's module ranges, eager kernels and a CUDA graph
//! captured inside modules and replayed in a decode step.
//!
//! The workload (one thread): graph capture at t∈[100, 900] under the module
//! ranges of a 1-layer Qwen3-MoE (nodes created in q_norm, the MoE gate, the MoE
//! block, the decoder layer outside any mapped module, lm_head), instantiation
//! clones at t≈950, an eager prefill step [1000, 2000] and a decode step
//! [3000, 4000] replaying the graph (plus one kernel whose node is unknown).

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int32Type;
use rusqlite::Connection;

use crate::common::{ingest, read_table};

const GLOBAL_PID: i64 = (1 << 48) | (100 << 24);
const TID: i64 = GLOBAL_PID | 101;
const CAPTURED: i64 = 1 << 32;
const CLONED: i64 = 2 << 32;

#[derive(Clone, Copy, PartialEq)]
enum NodeTable {
    /// nsys 2024+: `CUDA_GRAPH_NODE_EVENTS`.
    Current,
    /// nsys 2022.4 – 2023.4: node events in `CUDA_GRAPH_EVENTS`.
    Old,
    Absent,
}

const MODULES: &[(i64, i64, &str)] = &[
    (100, 900, "module::Qwen3MoeForCausalLM"),
    (110, 800, "module:model.layers.0:Qwen3MoeDecoderLayer"),
    (
        120,
        300,
        "module:model.layers.0.self_attn:Qwen3MoeAttention",
    ),
    (
        130,
        140,
        "module:model.layers.0.self_attn.q_norm:Qwen3MoeRMSNorm",
    ),
    (400, 700, "module:model.layers.0.mlp:Qwen3MoeSparseMoeBlock"),
    (410, 420, "module:model.layers.0.mlp.gate:Linear"),
    (850, 890, "module:lm_head:Linear"),
    (1010, 1990, "module::Qwen3MoeForCausalLM"),
    (
        1020,
        1200,
        "module:model.layers.0.self_attn:Qwen3MoeAttention",
    ),
    (
        1300,
        1600,
        "module:model.layers.0.mlp:Qwen3MoeSparseMoeBlock",
    ),
];

/// (name id, name) of the kernels.
const NAMES: &[(i64, &str)] = &[
    (1, "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT"),
    (2, "vectorized_elementwise_kernel"),
    (3, "ncclDevKernel_AllReduce_Sum_bf16_RING_LL"),
    (4, "mystery_kernel"),
    (5, "RMSNormKernel"),
    (6, "cudaLaunchKernel_v7000"),
    (7, "cudaGraphLaunch_v10000"),
    (8, "Graph Node Creation"),
];

/// Eager launches: (api start, correlation, name id).
const EAGER: &[(i64, i64, i64)] = &[
    (1030, 1, 1), // nvjet in attention → attention (module)
    (1310, 2, 2), // elementwise in MoE → moe (module)
    (1400, 3, 3), // NCCL in MoE → communication (name)
    (1700, 4, 2), // under the root only → elementwise (name)
    (1995, 5, 4), // outside modules → other (none)
];

/// Graph nodes: (node index, creation time, name id).
const NODES: &[(i64, i64, i64)] = &[
    (0, 135, 5), // q_norm inside attention → attention
    (1, 415, 1), // MoE gate → moe
    (2, 500, 3), // NCCL inside MoE → communication
    (3, 750, 2), // decoder layer only → elementwise (name)
    (4, 870, 1), // lm_head → gemm (module)
];

fn build(path: &Path, nodes: NodeTable) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE META_DATA_EXPORT (name TEXT NOT NULL, value TEXT);
         INSERT INTO META_DATA_EXPORT VALUES ('EXPORT_SCHEMA_VERSION', '3.20.3');
         CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL,
             globalTid INTEGER, correlationId INTEGER, nameId INTEGER NOT NULL, returnValue INTEGER NOT NULL);
         CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
             streamId INTEGER NOT NULL, correlationId INTEGER, globalPid INTEGER, demangledName INTEGER NOT NULL,
             shortName INTEGER NOT NULL, graphNodeId INTEGER);
         CREATE TABLE NVTX_EVENTS (start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL, text TEXT,
             globalTid INTEGER, textId INTEGER, domainId INTEGER);",
    )
    .unwrap();
    for (id, value) in NAMES {
        c.execute("INSERT INTO StringIds VALUES (?1, ?2)", (id, value))
            .unwrap();
    }
    let nvtx = |start: i64, end: i64, text: &str| {
        c.execute(
            "INSERT INTO NVTX_EVENTS VALUES (?1, ?2, 59, ?3, ?4, NULL, 0)",
            (start, end, text, TID),
        )
        .unwrap();
    };
    nvtx(1000, 2000, "prefill|bsz=1|seq=16|iter=0");
    nvtx(3000, 4000, "decode|bsz=1|seq=16|iter=0");
    for (start, end, text) in MODULES {
        nvtx(*start, *end, text);
    }
    let kernel = |start: i64, corr: i64, name: i64, node: Option<i64>| {
        c.execute(
            "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (?1, ?2, 0, 7, ?3, ?4, ?5, ?5, ?6)",
            (start, start + 40, corr, GLOBAL_PID, name, node),
        )
        .unwrap();
    };
    let api = |start: i64, corr: i64, name: i64| {
        c.execute(
            "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?1, ?2, 0, ?3, ?4, ?5, 0)",
            (start, start + 5, TID, corr, name),
        )
        .unwrap();
    };
    for (t, corr, name) in EAGER {
        api(*t, *corr, 6);
        kernel(t + 10, *corr, *name, None);
    }
    api(3100, 9, 7);
    for (index, _, name) in NODES {
        kernel(3200 + 50 * index, 9, *name, Some(CLONED | index));
    }
    kernel(3600, 9, 2, Some(CLONED | 9));

    let table = match nodes {
        NodeTable::Current => "CUDA_GRAPH_NODE_EVENTS",
        NodeTable::Old => "CUDA_GRAPH_EVENTS",
        NodeTable::Absent => return,
    };
    c.execute_batch(&format!(
        "CREATE TABLE {table} (start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL,
             globalTid INTEGER, nameId INTEGER NOT NULL, graphNodeId INTEGER NOT NULL, originalGraphNodeId INTEGER);"
    ))
    .unwrap();
    let event = |t: i64, node: i64, original: Option<i64>| {
        c.execute(
            &format!("INSERT INTO {table} VALUES (?1, ?1, 77, ?2, 8, ?3, ?4)"),
            (t, TID, node, original),
        )
        .unwrap();
    };
    for (index, t, _) in NODES {
        event(*t, CAPTURED | index, None);
    }
    // Instantiation: a plain creation row for the exec node, then its clone row
    // (as nsys 2025 records them); the clone link must win.
    for (index, _, _) in NODES {
        event(949, CLONED | index, None);
        event(950 + index, CLONED | index, Some(CAPTURED | index));
    }
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
);

/// (name, category, category_source, module, module_class, layer) per kernel.
fn rows(kernels: &RecordBatch) -> Vec<Row> {
    let text = |name: &str| {
        kernels
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .clone()
    };
    let (name, category, source, module, class) = (
        text("name"),
        text("category"),
        text("category_source"),
        text("module"),
        text("module_class"),
    );
    let layer = kernels
        .column_by_name("layer")
        .unwrap()
        .as_primitive::<Int32Type>()
        .clone();
    let opt = |a: &datafusion::arrow::array::StringArray, i| {
        (!a.is_null(i)).then(|| a.value(i).to_string())
    };
    (0..kernels.num_rows())
        .map(|i| {
            (
                name.value(i).to_string(),
                category.value(i).to_string(),
                source.value(i).to_string(),
                opt(&module, i),
                opt(&class, i),
                (!layer.is_null(i)).then(|| layer.value(i)),
            )
        })
        .collect()
}

fn row(
    name: &str,
    category: &str,
    source: &str,
    module: Option<(&str, &str)>,
    layer: Option<i32>,
) -> Row {
    (
        name.into(),
        category.into(),
        source.into(),
        module.map(|m| m.0.to_string()),
        module.map(|m| m.1.to_string()),
        layer,
    )
}

const NVJET: &str = "nvjet_sm90_tst_64x8_64x16_4x1_v_bz_TNT";
const EW: &str = "vectorized_elementwise_kernel";
const NCCL: &str = "ncclDevKernel_AllReduce_Sum_bf16_RING_LL";
const ATTN: (&str, &str) = ("model.layers.0.self_attn", "Qwen3MoeAttention");
const MOE: (&str, &str) = ("model.layers.0.mlp", "Qwen3MoeSparseMoeBlock");
const ROOT: (&str, &str) = ("", "Qwen3MoeForCausalLM");

fn eager_rows() -> Vec<Row> {
    vec![
        row(NVJET, "attention", "module", Some(ATTN), Some(0)),
        row(EW, "moe", "module", Some(MOE), Some(0)),
        row(NCCL, "communication", "module", Some(MOE), Some(0)),
        row(EW, "elementwise", "name", Some(ROOT), None),
        row("mystery_kernel", "other", "none", None, None),
    ]
}

#[test]
fn graph_nodes_take_the_module_open_at_capture() {
    for table in [NodeTable::Current, NodeTable::Old] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("modules.sqlite");
        build(&input, table);
        let summary = ingest(&[input], &dir.path().join("out"));
        let got = rows(&read_table(&dir.path().join("out"), "kernels", "modules"));
        let mut want = eager_rows();
        want.extend([
            row(
                "RMSNormKernel",
                "attention",
                "module",
                Some(("model.layers.0.self_attn.q_norm", "Qwen3MoeRMSNorm")),
                Some(0),
            ),
            row(
                NVJET,
                "moe",
                "module",
                Some(("model.layers.0.mlp.gate", "Linear")),
                Some(0),
            ),
            row(NCCL, "communication", "module", Some(MOE), Some(0)),
            row(
                EW,
                "elementwise",
                "name",
                Some(("model.layers.0", "Qwen3MoeDecoderLayer")),
                Some(0),
            ),
            row(NVJET, "gemm", "module", Some(("lm_head", "Linear")), None),
            row(EW, "elementwise", "name", None, None),
        ]);
        assert_eq!(got, want);
        // Only the unknown node fell back, and it is counted.
        let fallbacks: Vec<(&str, u64)> = summary.fallbacks.into_iter().collect();
        assert_eq!(fallbacks.len(), 1, "{fallbacks:?}");
        assert_eq!(fallbacks[0].1, 1);
        assert!(fallbacks[0].0.contains("no creation event"));
        assert_eq!(summary.module_ranges, MODULES.len() as u64);
    }
}

#[test]
fn without_node_events_graph_kernels_fall_back_to_names_counted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("modules.sqlite");
    build(&input, NodeTable::Absent);
    let summary = ingest(&[input], &dir.path().join("out"));
    let got = rows(&read_table(&dir.path().join("out"), "kernels", "modules"));
    let mut want = eager_rows();
    for (_, _, name) in NODES {
        let name = NAMES.iter().find(|n| n.0 == *name).unwrap().1;
        let category = match name {
            "RMSNormKernel" => "norm",
            n if n == NVJET => "gemm",
            n if n == NCCL => "communication",
            _ => "elementwise",
        };
        want.push(row(name, category, "name", None, None));
    }
    want.push(row(EW, "elementwise", "name", None, None));
    assert_eq!(got, want);
    let fallbacks: BTreeMap<&str, u64> = summary.fallbacks;
    assert_eq!(fallbacks.values().sum::<u64>(), NODES.len() as u64 + 1);
    assert!(fallbacks
        .keys()
        .all(|r| r.contains("no graph-node creation events")));
}

/// A Kineto trace of the same eager step: module ranges as `record_function`
/// annotations (`module:` text), or PyTorch's `nn.Module` python events.
fn kineto_trace(modules_as: &str) -> String {
    let mut events = vec![
        r#"{"ph":"X","cat":"user_annotation","name":"prefill|bsz=1|seq=16|iter=0","pid":1,"tid":2,"ts":1.000,"dur":1.000}"#.to_string(),
    ];
    for (start, end, text) in MODULES.iter().filter(|m| m.0 >= 1000) {
        let (cat, name) = match modules_as {
            "annotation" => ("user_annotation", text.to_string()),
            _ => {
                let class = text.rsplit(':').next().unwrap();
                ("python_function", format!("nn.Module: {class}_0"))
            }
        };
        events.push(format!(
            r#"{{"ph":"X","cat":"{cat}","name":"{name}","pid":1,"tid":2,"ts":{:.3},"dur":{:.3}}}"#,
            *start as f64 / 1000.0,
            (end - start) as f64 / 1000.0
        ));
    }
    for (t, corr, name) in EAGER {
        let name = NAMES.iter().find(|n| n.0 == *name).unwrap().1;
        events.push(format!(
            r#"{{"ph":"X","cat":"cuda_runtime","name":"cudaLaunchKernel","pid":1,"tid":2,"ts":{:.3},"dur":0.005,"args":{{"correlation":{corr}}}}}"#,
            *t as f64 / 1000.0
        ));
        events.push(format!(
            r#"{{"ph":"X","cat":"kernel","name":"{name}","pid":0,"tid":7,"ts":{:.3},"dur":0.040,"args":{{"correlation":{corr},"device":0,"stream":7}}}}"#,
            (t + 10) as f64 / 1000.0
        ));
    }
    format!(r#"{{"traceEvents":[{}]}}"#, events.join(","))
}

#[test]
fn kineto_module_events_attribute_like_nsys() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("modules.json");
    std::fs::write(&input, kineto_trace("annotation")).unwrap();
    ingest(&[input], &dir.path().join("out"));
    let got = rows(&read_table(&dir.path().join("out"), "kernels", "modules"));
    assert_eq!(got, eager_rows());

    // PyTorch's own module events: no qualified names, same categories.
    let input = dir.path().join("torch.json");
    std::fs::write(&input, kineto_trace("python_function")).unwrap();
    ingest(&[input], &dir.path().join("out"));
    let got = rows(&read_table(&dir.path().join("out"), "kernels", "torch"));
    let categories: Vec<(&str, &str, Option<&str>)> = got
        .iter()
        .map(|r| (r.1.as_str(), r.2.as_str(), r.4.as_deref()))
        .collect();
    assert_eq!(
        categories,
        vec![
            ("attention", "module", Some("Qwen3MoeAttention")),
            ("moe", "module", Some("Qwen3MoeSparseMoeBlock")),
            ("communication", "module", Some("Qwen3MoeSparseMoeBlock")),
            ("elementwise", "name", Some("Qwen3MoeForCausalLM")),
            ("other", "none", None),
        ]
    );
    assert_eq!(got[1].3.as_deref(), Some("Qwen3MoeSparseMoeBlock_0"));
}

#[test]
fn ingest_warns_when_other_exceeds_five_percent_naming_the_top_kernels() {
    // One `other` kernel of 40 ns among 11 kernels of 40 ns: 9.1 %.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("modules.sqlite");
    build(&input, NodeTable::Current);
    let summary = ingest(&[input], &dir.path().join("out"));
    let warning = summary
        .survey
        .warnings
        .iter()
        .find(|w| w.contains("`other`"))
        .unwrap_or_else(|| panic!("no warning in {:?}", summary.survey.warnings));
    assert!(
        warning.starts_with("9.1% of GPU time is `other` (over 5%); top: mystery_kernel (9.1%)"),
        "{warning}"
    );
    assert!(summary
        .to_string()
        .contains("warning: 9.1% of GPU time is `other`"));
}

/// On a real capture without module ranges every kernel is categorised by name:
/// `none` exactly when `other`, no module, no fallback counted.
#[test]
fn without_module_ranges_names_decide_everything() {
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest(&[crate::common::fixture("nsys/mini.sqlite")], dir.path());
    assert_eq!(summary.module_ranges, 0);
    assert!(summary.fallbacks.is_empty(), "{:?}", summary.fallbacks);
    assert!(summary
        .to_string()
        .contains("no module ranges in the input"));
    let got = rows(&read_table(dir.path(), "kernels", "mini"));
    assert_eq!(got.len() as u64, summary.kernels);
    for (name, category, source, module, class, layer) in got {
        assert_eq!(source == "none", category == "other", "{name}");
        assert_eq!(source, if category == "other" { "none" } else { "name" });
        assert_eq!((module, class, layer), (None, None, None), "{name}");
    }
    assert!(!summary
        .survey
        .warnings
        .iter()
        .any(|w| w.contains("`other`")));
}
