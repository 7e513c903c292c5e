//! Real SGLang captures: `trace capture --engine sglang` with SGLang 0.5.17 on one H200
//! (triton attention, CUDA-graph decode re-captured inside the profiled window), grid
//! `1,4;128,512`, 5 iterations, `--profile both`:
//! - `fixtures/nsys/sglang_qwen3moe_2l.sqlite`: Qwen3-MoE 2-layer, the harness's module
//!   hooks (`module:<name>:<Class>`);
//! - `fixtures/nsys/sglang_llama3_2l_markers.sqlite`: Llama-3 2-layer with
//!   `--engine-markers`, SGLang's own layer-wise NVTX markers (module paths, no class).
//!
//! Checked here: attribution per shape equals the independent SQL oracle; every decode
//! step is graph-replayed; the kernel families SGLang launches are named right by their
//! names alone (`conf/kernels.yaml`) and placed by module; `other` and module-decided
//! shares. Module-by-module exactness is in `module_exactness.rs`.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use sgl_trace::attribute::rules::Rules;

use crate::common::{fixture, ingest, read_table};
use crate::exactness::check;
use crate::kernel_names::kernel_names;

/// (fixture, labelled kernels, unlabelled kernels)
const CAPTURES: &[(&str, u64, u64)] = &[
    ("sglang_qwen3moe_2l", 2310, 1542),
    ("sglang_llama3_2l_markers", 1770, 1198),
];

#[test]
fn sglang_captures_match_the_oracle_per_shape_and_decode_replays_graphs() {
    for (capture, labelled, unlabelled) in CAPTURES {
        let steps = check(
            &format!("nsys/{capture}.sqlite"),
            capture,
            *labelled,
            *unlabelled,
            8,
        );
        assert_eq!(steps.num_rows(), 40, "{capture}: 8 blocks x 5 iterations");
        let phase = steps.column_by_name("phase").unwrap().as_string::<i32>();
        let int = |c: &str| {
            steps
                .column_by_name(c)
                .unwrap()
                .as_primitive::<Int64Type>()
                .clone()
        };
        let (kernels, graph) = (int("kernels"), int("graph_kernels"));
        for i in 0..steps.num_rows() {
            if phase.value(i) == "decode" {
                // The forward is one graph replay; the few eager kernels around it are
                // the batch preparation and the sampler, outside the graph.
                assert!(
                    graph.value(i) * 10 >= kernels.value(i) * 7,
                    "{capture}: decode step {i}: {} of {} kernels from the graph",
                    graph.value(i),
                    kernels.value(i)
                );
            } else {
                assert_eq!(graph.value(i), 0, "{capture}: prefill step {i} is eager");
            }
        }
    }
}

#[test]
fn sglang_attribution_is_module_decided_with_no_other() {
    println!(
        "{:<26} {:>9} {:>9} {:>9} {:>11}",
        "capture", "module%", "other%", "moe%", "decode_graph%"
    );
    for (capture, _, _) in CAPTURES {
        let dir = tempfile::tempdir().unwrap();
        let summary = ingest(&[fixture(&format!("nsys/{capture}.sqlite"))], dir.path());
        assert!(
            summary.fallbacks.is_empty(),
            "{capture}: {:?}",
            summary.fallbacks
        );
        let k = read_table(dir.path(), "kernels", capture);
        let text = |c: &str| k.column_by_name(c).unwrap().as_string::<i32>().clone();
        let (category, source, phase) = (text("category"), text("category_source"), text("phase"));
        let dur = k
            .column_by_name("dur_ns")
            .unwrap()
            .as_primitive::<Int64Type>();
        let graph = k.column_by_name("graph_node_id").unwrap();
        let mut ns: BTreeMap<&str, i64> = BTreeMap::new();
        for i in (0..k.num_rows()).filter(|&i| !phase.is_null(i)) {
            let d = dur.value(i);
            *ns.entry("all").or_default() += d;
            *ns.entry("module").or_default() += d * i64::from(source.value(i) == "module");
            *ns.entry("other").or_default() += d * i64::from(category.value(i) == "other");
            *ns.entry("moe").or_default() += d * i64::from(category.value(i) == "moe");
            if phase.value(i) == "decode" {
                *ns.entry("decode").or_default() += d;
                *ns.entry("decode_graph").or_default() += d * i64::from(!graph.is_null(i));
            }
        }
        let pct = |k: &str, of: &str| 100.0 * ns[k] as f64 / ns[of] as f64;
        println!(
            "{capture:<26} {:>9.2} {:>9.2} {:>9.2} {:>11.2}",
            pct("module", "all"),
            pct("other", "all"),
            pct("moe", "all"),
            pct("decode_graph", "decode")
        );
        assert!(
            pct("module", "all") >= 90.0,
            "{capture}: module-decided share"
        );
        assert!(pct("other", "all") <= 5.0, "{capture}: other share");
        assert!(
            pct("decode_graph", "decode") >= 90.0,
            "{capture}: graph-replayed decode"
        );
        if capture.contains("moe") {
            assert!(pct("moe", "all") >= 20.0, "{capture}: MoE share");
        }
    }
}

/// The kernels SGLang 0.5.17 launched in these captures, by name alone
/// (`conf/kernels.yaml`), with where each comes from.
const SGLANG_FAMILIES: &[(&str, &str, &str)] = &[
    (
        "fused_moe_kernel",
        "moe",
        "sglang 0.5.17 sglang/kernels/ops/moe/fused_moe_triton_kernels.py",
    ),
    (
        "moe_align_block_size_kernel",
        "moe",
        "sglang 0.5.17 sglang/kernels/jit/csrc/moe/moe_align_kernel.cu",
    ),
    (
        "count_and_sort_expert_tokens_kernel",
        "moe",
        "sglang 0.5.17 sglang/kernels/jit/csrc/moe/moe_align_kernel.cu",
    ),
    (
        "moe_sum_reduce_warp_per_token_vec_kernel",
        "moe",
        "sglang-kernel 0.4.5 (sgl_kernel moe_sum_reduce)",
    ),
    (
        "_fwd_kernel",
        "attention",
        "sglang 0.5.17 sglang/kernels/ops/attention/extend_attention.py",
    ),
    (
        "_fwd_grouped_kernel_stage1",
        "attention",
        "sglang 0.5.17 sglang/kernels/ops/attention/decode_attention.py",
    ),
    (
        "_fwd_kernel_stage2",
        "attention",
        "sglang 0.5.17 sglang/kernels/ops/attention/decode_attention.py",
    ),
    (
        "create_flashinfer_kv_indices_triton",
        "attention",
        "sglang 0.5.17 sglang/kernels/ops/kvcache/kv_indices.py",
    ),
    (
        "FusedAddRMSNormKernel",
        "norm",
        "sglang 0.5.17 sglang/kernels/jit/csrc/elementwise/fused_add_rmsnorm.cuh",
    ),
    (
        "RMSNormKernel",
        "norm",
        "flashinfer include/flashinfer/norm.cuh (JIT-compiled by SGLang)",
    ),
    (
        "act_and_mul_kernel",
        "activation",
        "sglang 0.5.17 sglang/kernels/jit/csrc/elementwise/activation.cuh",
    ),
    (
        "store_kvcache",
        "kv_cache",
        "sglang 0.5.17 sglang/kernels/jit/csrc/elementwise/kvcache.cuh",
    ),
];

#[test]
fn sglang_kernel_families_are_named_right_by_name_alone() {
    let rules = Rules::builtin().unwrap();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (capture, _, _) in CAPTURES {
        for (short, demangled) in kernel_names(&format!("nsys/{capture}.sqlite")) {
            seen.insert(short.clone(), rules.classify(&short, &demangled));
        }
    }
    for (name, want, source) in SGLANG_FAMILIES {
        let got = seen
            .get(*name)
            .unwrap_or_else(|| panic!("{name} ({source}) is not in the captures"));
        assert_eq!(got, want, "{name} ({source})");
    }
    let other: Vec<&String> = seen
        .iter()
        .filter(|(_, c)| **c == "other")
        .map(|(n, _)| n)
        .collect();
    println!("by name alone, `other`: {other:?}");
}
