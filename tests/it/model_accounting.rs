//! Parameter and FLOP counts against values computed by hand in the test, for each
//! supported architecture, and against published model sizes.

use std::path::Path;

use sgl_trace::arch::config::{config_path, Arch};
use sgl_trace::arch::flops::{count as flops, Forward, MlaPath, Phase};
use sgl_trace::arch::params::count as params;

use crate::common::root;

fn load(model: &str, mconf: &str) -> Arch {
    Arch::load(&config_path(&root().join("model_conf"), model, mconf)).unwrap()
}

fn component(list: &[(&'static str, u64)], name: &str) -> u64 {
    list.iter().find(|(c, _)| *c == name).unwrap().1
}

fn within(actual: u64, published: f64, tolerance: f64) {
    let rel = (actual as f64 - published).abs() / published;
    assert!(
        rel < tolerance,
        "{actual} vs {published}: {:.2}%",
        rel * 100.0
    );
}

#[test]
fn dense_gqa_llama_by_hand() {
    let arch = load("llama3", "2l");
    let (d, h, kv, dh, ff, v, l) = (4096u64, 32u64, 8u64, 128u64, 14336u64, 128256u64, 2u64);
    let attn = d * h * dh + 2 * d * kv * dh + h * dh * d; // q, k, v, o = 41,943,040
    assert_eq!(attn, 41_943_040);
    let mlp = 3 * d * ff;
    let p = params(&arch);
    assert_eq!(p.total, v * d * 2 + l * (attn + mlp + 2 * d) + d);
    assert_eq!(p.active, p.total);
    assert_eq!(params(&load("llama3", "full")).total, 8_030_261_248);

    // Prefill, 2 sequences of 128: T = 256 tokens.
    let (b, s) = (2u64, 128u64);
    let f = flops(
        &arch,
        Forward {
            phase: Phase::Prefill,
            bsz: b,
            seq: s,
        },
        None,
    );
    let c = &f.components;
    assert_eq!(component(c, "attention_proj"), l * 2 * (b * s) * attn);
    assert_eq!(
        component(c, "attention_scores"),
        l * 2 * b * s * s * h * dh,
        "causal: 2·S²·h·d_h"
    );
    assert_eq!(component(c, "dense_mlp"), l * 2 * (b * s) * mlp);
    assert_eq!(
        component(c, "lm_head"),
        2 * b * d * v,
        "last token of each sequence only"
    );
    assert_eq!(f.total, c.iter().map(|(_, n)| n).sum::<u64>());

    // Decode: one token per sequence over a context of 128.
    let f = flops(
        &arch,
        Forward {
            phase: Phase::Decode,
            bsz: b,
            seq: s,
        },
        None,
    );
    assert_eq!(
        component(&f.components, "attention_scores"),
        l * 4 * b * s * h * dh
    );
    assert_eq!(component(&f.components, "dense_mlp"), l * 2 * b * mlp);
    assert_eq!(f.kv_bytes, l * b * s * 2 * kv * dh * 2);
}

#[test]
fn qwen3_moe_matches_published_size_and_counts_active_experts() {
    let full = params(&load("qwen3_moe", "full"));
    within(full.total, 235e9, 0.01);
    within(full.active, 22e9, 0.01);

    let arch = load("qwen3_moe", "2l");
    let (d, e, k, ff_e) = (4096u64, 128u64, 8u64, 1536u64);
    let p = params(&arch);
    assert_eq!(component(&p.components, "experts"), 2 * e * 3 * d * ff_e);
    assert_eq!(component(&p.components, "router"), 2 * d * e);
    // q_norm and k_norm (head_dim each) per layer, two RMSNorms per layer, final norm.
    assert_eq!(component(&p.components, "norms"), 2 * (2 * d + 2 * 128) + d);
    let f = flops(
        &arch,
        Forward {
            phase: Phase::Prefill,
            bsz: 4,
            seq: 1024,
        },
        None,
    );
    assert_eq!(
        component(&f.components, "experts"),
        2 * 2 * 4096 * k * 3 * d * ff_e
    );
    assert_eq!(component(&f.components, "router"), 2 * 2 * 4096 * d * e);
    // Decode with 1 token touches top-8 of 128 experts per layer.
    let f = flops(
        &arch,
        Forward {
            phase: Phase::Decode,
            bsz: 1,
            seq: 512,
        },
        None,
    );
    let non_expert =
        p.total - component(&p.components, "experts") - component(&p.components, "embedding");
    assert_eq!(f.weight_bytes, (non_expert + 2 * k * 3 * d * ff_e) * 2);
}

#[test]
fn mixtral_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"architectures": ["MixtralForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336, "model_type": "mixtral",
            "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8,
            "num_local_experts": 8, "tie_word_embeddings": false, "vocab_size": 32000}"#,
    )
    .unwrap();
    let arch = Arch::load(&path).unwrap();
    let p = params(&arch);
    within(p.total, 46.7e9, 0.01);
    within(p.active, 12.9e9, 0.01);
    assert_eq!(
        component(&p.components, "experts"),
        32 * 8 * 3 * 4096 * 14336
    );
}

#[test]
fn deepseek_v3_mla_by_hand() {
    let full = params(&load("deepseek_v3", "full"));
    within(full.total, 671e9, 0.01);
    within(full.active, 37e9, 0.02);

    let arch = load("deepseek_v3", "2l");
    assert_eq!(
        arch.moe_layers,
        vec![false, true],
        "first_k_dense_replace = 1"
    );
    assert_eq!(arch.weight_bytes, 1, "FP8 block-quantized checkpoint");
    let (d, h, q_lora, kv_lora, nope, rope, v) =
        (7168u64, 128u64, 1536u64, 512u64, 128u64, 64u64, 128u64);
    let mla = d * q_lora
        + q_lora * h * (nope + rope)
        + d * (kv_lora + rope)
        + kv_lora * h * (nope + v)
        + h * v * d;
    let p = params(&arch);
    assert_eq!(component(&p.components, "attention"), 2 * mla);
    assert_eq!(component(&p.components, "dense_mlp"), 3 * d * 18432);
    assert_eq!(component(&p.components, "shared_experts"), 3 * d * 2048);
    assert_eq!(
        component(&p.components, "router"),
        d * 256 + 256,
        "noaux_tc routing bias"
    );

    // Absorbed decode: MQA over the latent, W_UK / W_UV on the query side.
    let (b, c) = (4u64, 1000u64);
    let f = flops(
        &arch,
        Forward {
            phase: Phase::Decode,
            bsz: b,
            seq: c,
        },
        None,
    );
    let shared_proj = d * q_lora + q_lora * h * (nope + rope) + d * (kv_lora + rope) + h * v * d;
    assert_eq!(
        component(&f.components, "attention_proj"),
        2 * (2 * b * shared_proj + 2 * b * h * kv_lora * (nope + v))
    );
    assert_eq!(
        component(&f.components, "attention_scores"),
        2 * (2 * b * c * h * (kv_lora + rope) + 2 * b * c * h * kv_lora)
    );
    assert_eq!(f.kv_bytes, 2 * b * c * (kv_lora + rope) * 2);
    // Non-absorbed prefill: kv_b up-projection per KV token, MHA over nope+rope.
    let (b, s) = (1u64, 256u64);
    let f = flops(
        &arch,
        Forward {
            phase: Phase::Prefill,
            bsz: b,
            seq: s,
        },
        Some(MlaPath::Mha),
    );
    assert_eq!(
        component(&f.components, "attention_proj"),
        2 * (2 * s * shared_proj + 2 * s * kv_lora * h * (nope + v))
    );
    assert_eq!(
        component(&f.components, "attention_scores"),
        2 * (2 * (s * s / 2) * h * (nope + rope) + 2 * (s * s / 2) * h * v)
    );
    assert_eq!(component(&f.components, "dense_mlp"), 2 * s * 3 * d * 18432);
    assert_eq!(
        component(&f.components, "experts"),
        2 * s * 8 * 3 * d * 2048
    );
}

#[test]
fn unsupported_model_type_names_the_supported_ones() {
    let err = Arch::from_json(
        &serde_json::json!({"model_type": "gpt2"}),
        Path::new("c.json"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("c.json") && err.contains("gpt2") && err.contains("deepseek_v3"),
        "{err}"
    );
}
