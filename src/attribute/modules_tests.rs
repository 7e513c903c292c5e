//! Tests of [`super::modules`]: range text, layer index, the shipped module rules,
//! the precedence, and rule-file errors.

use std::path::Path;

use super::modules::*;

#[test]
fn parses_harness_and_torch_module_text() {
    assert_eq!(
        ModuleText::parse("module:model.layers.7.mlp:Qwen3MoeSparseMoeBlock"),
        Some(ModuleText {
            qualified: "model.layers.7.mlp",
            class: "Qwen3MoeSparseMoeBlock"
        })
    );
    assert_eq!(
        ModuleText::parse("module::Qwen3MoeForCausalLM"),
        Some(ModuleText {
            qualified: "",
            class: "Qwen3MoeForCausalLM"
        })
    );
    assert_eq!(
        ModuleText::parse("nn.Module: Qwen3MoeMLP_12"),
        Some(ModuleText {
            qualified: "Qwen3MoeMLP_12",
            class: "Qwen3MoeMLP"
        })
    );
    assert_eq!(
        ModuleText::parse("{'Module': 'meta-llama/Llama-3.2-1B-Instruct.model.layers.0.self_attn.qkv_proj', 'TrainableParams': {'weight': [3072, 2048]}}"),
        Some(ModuleText {
            qualified: "model.layers.0.self_attn.qkv_proj",
            class: ""
        })
    );
    assert_eq!(
        ModuleText::parse("{'Module': 'top.model.layers.3.mlp', 'Inputs': [[4, 2048]]}"),
        Some(ModuleText {
            qualified: "model.layers.3.mlp",
            class: ""
        })
    );
    // SGLang 0.5.5.post3 on: ModelRunner registers the hooks with module_prefix="model"
    // (the text below is from a real SGLang 0.5.17 capture on an H200).
    for (marker, qualified) in [
        (
            "{'Module': 'model.model.layers.0.self_attn', 'Inputs': [[512], [512, 4096]]}",
            "model.layers.0.self_attn",
        ),
        (
            "{'Module': 'model.logits_processor', 'Inputs': [[512]]}",
            "logits_processor",
        ),
        (
            "{'Module': 'model.lm_head', 'TrainableParams': {'weight': [128256, 4096]}}",
            "lm_head",
        ),
        ("{'Module': 'model', 'Inputs': [[512], [512]]}", ""),
    ] {
        assert_eq!(
            ModuleText::parse(marker),
            Some(ModuleText {
                qualified,
                class: ""
            }),
            "{marker}"
        );
    }
    assert_eq!(
        ModuleText::parse("{'Module': 'Qwen/Qwen3-30B-A3B', 'Inputs': [[4]]}"),
        Some(ModuleText {
            qualified: "",
            class: ""
        })
    );
    for not_a_module in [
        "module:",
        "module:x",
        "module:a:b:C",
        "module:x:",
        "module:x:Bad Class",
        "nn.Module: NoInstance",
        "nn.Module: Linear_x",
        "decode|bsz=1|seq=8|iter=0",
        "aten::mm",
    ] {
        assert_eq!(ModuleText::parse(not_a_module), None, "{not_a_module}");
    }
}

#[test]
fn layer_index_from_qualified_names() {
    assert_eq!(layer_of("model.layers.7.mlp"), Some(7));
    assert_eq!(layer_of("model.layers.12.self_attn.q_proj"), Some(12));
    assert_eq!(layer_of("transformer.h.3.attn"), Some(3));
    assert_eq!(layer_of("model.embed_tokens"), None);
    assert_eq!(layer_of("lm_head"), None);
    assert_eq!(layer_of(""), None);
    assert_eq!(layer_of("model.layers"), None);
    assert_eq!(layer_of("model.layers.x.mlp"), None);
}

fn module<'a>(qualified: &'a str, class: &'a str) -> ModuleText<'a> {
    ModuleText { qualified, class }
}

#[test]
fn builtin_module_rules() {
    let rules = ModuleRules::builtin().unwrap();
    let category = |q, c| rules.classify(&module(q, c)).map(|m| m.category);
    assert_eq!(
        category("model.layers.0.mlp", "Qwen3MoeSparseMoeBlock"),
        Some("moe")
    );
    assert_eq!(category("model.layers.0.mlp", "GptOssMLP"), Some("moe"));
    assert_eq!(
        category("model.layers.0.mlp.experts", "FusedMoE"),
        Some("moe")
    );
    assert_eq!(
        category("model.layers.0.self_attn", "Qwen3MoeAttention"),
        Some("attention")
    );
    assert_eq!(
        category("model.layers.0.input_layernorm", "Qwen3MoeRMSNorm"),
        Some("norm")
    );
    assert_eq!(
        category("model.rotary_emb", "Qwen3MoeRotaryEmbedding"),
        Some("rotary")
    );
    assert_eq!(category("model.embed_tokens", "Embedding"), Some("memory"));
    assert_eq!(category("lm_head", "Linear"), Some("gemm"));
    assert_eq!(category("model.layers.0.mlp.gate", "Linear"), Some("moe"));
    assert_eq!(category("model.layers.0.self_attn.q_proj", "Linear"), None);
    assert_eq!(category("model.layers.0", "Qwen3MoeDecoderLayer"), None);
    assert_eq!(category("", "Qwen3MoeForCausalLM"), None);
    let mlp = rules.classify(&module("model.layers.0.mlp", "LlamaMLP"));
    assert_eq!(
        mlp,
        Some(ModuleCategory {
            category: "gemm",
            refine: true
        })
    );
    // vLLM / SGLang: the LogitsProcessor runs the LM-head GEMM (a more specific name,
    // e.g. SGLang's soft-cap, keeps its category); the samplers are sampling.
    // Class names as PyTorch's profiler reports them in
    // fixtures/public/vllm_qwen35_gb10_decode.json.gz.
    assert_eq!(
        rules.classify(&module("LogitsProcessor_0", "LogitsProcessor")),
        Some(ModuleCategory {
            category: "gemm",
            refine: true
        })
    );
    assert_eq!(category("Sampler_0", "Sampler"), Some("sampling"));
    assert_eq!(
        category("TopKTopPSampler_0", "TopKTopPSampler"),
        Some("sampling")
    );
}

/// SGLang's layer-wise markers have paths and no class: an `mlp` holding `experts` is
/// the MoE block, one without is a dense MLP; attribute names per
/// sgl-project/sglang python/sglang/srt/models/{llama,qwen3_moe,deepseek_v2}.py.
#[test]
fn path_only_markers_are_placed_by_name_and_children() {
    let rules = ModuleRules::builtin().unwrap();
    let verdict = |q: &str, children: &[&str]| {
        let children: Vec<String> = children.iter().map(|c| c.to_string()).collect();
        rules
            .classify_with_children(&module(q, ""), &children)
            .map(|m| (m.category, m.refine))
    };
    assert_eq!(
        verdict("model.layers.3.mlp", &["gate", "experts", "topk"]),
        Some(("moe", false))
    );
    assert_eq!(
        verdict(
            "model.layers.3.mlp",
            &["gate_up_proj", "down_proj", "act_fn"]
        ),
        Some(("gemm", true))
    );
    assert_eq!(
        verdict("model.layers.3.mlp.gate", &[]),
        Some(("moe", false))
    );
    assert_eq!(
        verdict("model.layers.3.self_attn", &["qkv_proj"]),
        Some(("attention", false))
    );
    assert_eq!(verdict("logits_processor", &[]), Some(("gemm", true)));
    assert_eq!(verdict("model.layers.3.mlp.gate_up_proj", &[]), None);
    assert_eq!(verdict("model.layers.3", &["mlp", "self_attn"]), None);
    // Without the children a holds-rule never matches: the MoE `mlp` would be dense.
    assert_eq!(
        rules
            .classify(&module("model.layers.3.mlp", ""))
            .map(|m| m.category),
        Some("gemm")
    );
}

#[test]
fn precedence() {
    let moe = Some(ModuleCategory {
        category: "moe",
        refine: false,
    });
    let mlp = Some(ModuleCategory {
        category: "gemm",
        refine: true,
    });
    assert_eq!(decide(moe, "elementwise"), ("moe", Source::Module));
    assert_eq!(decide(moe, "gemm"), ("moe", Source::Module));
    assert_eq!(decide(moe, "other"), ("moe", Source::Module));
    assert_eq!(
        decide(moe, "communication"),
        ("communication", Source::Module)
    );
    assert_eq!(
        decide(None, "communication"),
        ("communication", Source::Name)
    );
    assert_eq!(decide(mlp, "activation"), ("activation", Source::Module));
    assert_eq!(decide(mlp, "gemm"), ("gemm", Source::Module));
    assert_eq!(decide(mlp, "elementwise"), ("gemm", Source::Module));
    assert_eq!(decide(None, "gemm"), ("gemm", Source::Name));
    assert_eq!(decide(None, "other"), ("other", Source::None));
}

#[test]
fn bad_module_rules_name_file_and_line() {
    let err = |text: &str| {
        ModuleRules::parse(text, Path::new("m.yaml"))
            .unwrap_err()
            .to_string()
    };
    let e = err("rules:\n  - {class: 'X', category: moe}\n  - {class: 'Y', category: other}\n");
    assert!(e.starts_with("m.yaml:3: unknown module category"), "{e}");
    let e = err("rules:\n  - {category: moe}\n");
    assert!(e.starts_with("m.yaml:2:") && e.contains("class"), "{e}");
    let e = err("rules:\n  - {class: '(', category: moe}\n");
    assert!(e.contains("invalid class pattern"), "{e}");
    let e = err("rules:\n  - {name: 'x', holds: '[', category: moe}\n");
    assert!(e.contains("invalid holds pattern"), "{e}");
    let e = err("rules:\n  - {clas: 'X', category: moe}\n");
    assert!(e.contains("clas"), "{e}");
}

#[test]
fn torch_module_events_name_their_decoder_layer() {
    let layer = |text: &str| ModuleText::parse(text).and_then(|t| t.layer());
    assert_eq!(layer("nn.Module: Qwen2DecoderLayer_21"), Some(21));
    assert_eq!(layer("nn.Module: TransformerBlock_3"), Some(3));
    assert_eq!(layer("nn.Module: GPT2Block_0"), Some(0));
    // Sub-blocks and other classes say nothing; their layer comes from the parent.
    assert_eq!(layer("nn.Module: Qwen2Attention_21"), None);
    assert_eq!(layer("nn.Module: MLPBlock_4"), None);
    assert_eq!(layer("nn.Module: Qwen3MoeSparseMoeBlock_4"), None);
    assert_eq!(layer("nn.Module: RMSNorm_7"), None);
    assert_eq!(
        layer("module:model.layers.7.mlp:Qwen3MoeSparseMoeBlock"),
        Some(7)
    );
    assert_eq!(layer("module:model.norm:RMSNorm"), None);
}
