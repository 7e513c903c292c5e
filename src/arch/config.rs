//! Reading a `config.json` into an [`Arch`]: the numbers accounting needs, for the
//! supported families (dense GQA Llama/Qwen, Qwen2/3-MoE, Mixtral, DeepSeek-V2/V3).
//! An unsupported `model_type` or a missing field is an error naming the file.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};

/// The `model_type`s we can account for.
pub const SUPPORTED: &[&str] = &[
    "llama",
    "qwen2",
    "qwen3",
    "mistral",
    "qwen2_moe",
    "qwen3_moe",
    "mixtral",
    "deepseek_v2",
    "deepseek_v3",
];

/// Attention flavour.
#[derive(Debug, Clone, PartialEq)]
pub enum Attention {
    /// Grouped-query (MHA when `kv_heads == heads`).
    Gqa {
        heads: u64,
        kv_heads: u64,
        head_dim: u64,
        bias: bool,
        qk_norm: bool,
    },
    /// DeepSeek multi-head latent attention.
    Mla {
        heads: u64,
        q_lora: Option<u64>,
        kv_lora: u64,
        nope: u64,
        rope: u64,
        v: u64,
    },
}

/// Mixture-of-experts MLP.
#[derive(Debug, Clone, PartialEq)]
pub struct Moe {
    pub experts: u64,
    pub top_k: u64,
    pub expert_ff: u64,
    /// Shared-expert intermediate size in total (0 when none).
    pub shared_ff: u64,
    /// Qwen2-MoE gates its shared expert with a `d → 1` projection.
    pub shared_gate: bool,
    /// DeepSeek-V3 keeps a per-expert routing bias.
    pub router_bias: bool,
}

/// What accounting needs from a config.
#[derive(Debug, Clone, PartialEq)]
pub struct Arch {
    pub model_type: String,
    pub hidden: u64,
    pub layers: u64,
    pub vocab: u64,
    pub tie_embeddings: bool,
    pub attention: Attention,
    /// Intermediate size of dense MLP layers.
    pub dense_ff: u64,
    pub moe: Option<Moe>,
    /// Per layer: true when the layer's MLP is MoE.
    pub moe_layers: Vec<bool>,
    /// Bytes per weight element (1 for FP8-quantized checkpoints, else 2).
    pub weight_bytes: u64,
}

struct Fields<'a> {
    json: &'a Value,
    path: &'a Path,
}

impl Fields<'_> {
    fn opt(&self, key: &str) -> Option<u64> {
        self.json.get(key).and_then(Value::as_u64)
    }

    fn req(&self, key: &str) -> Result<u64> {
        self.opt(key).ok_or_else(|| Error::Config {
            path: self.path.to_path_buf(),
            line: None,
            reason: format!("missing or non-integer field {key:?}"),
        })
    }

    fn flag(&self, key: &str) -> bool {
        self.json.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
}

/// `model_conf/<model>/config_<mconf>.json`.
pub fn config_path(dir: &Path, model: &str, mconf: &str) -> PathBuf {
    dir.join(model).join(format!("config_{mconf}.json"))
}

/// The model folders under `dir` (sorted), for an error that names what is there.
pub fn models_in(dir: &Path) -> Vec<String> {
    let mut models: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    models.sort();
    models
}

impl Arch {
    /// Loads `path`.
    pub fn load(path: &Path) -> Result<Arch> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            line: Some(e.line()),
            reason: e.to_string(),
        })?;
        Arch::from_json(&json, path)
    }

    /// Builds an [`Arch`] from parsed config JSON; `path` names it in errors.
    pub fn from_json(json: &Value, path: &Path) -> Result<Arch> {
        let f = Fields { json, path };
        let model_type = json
            .get("model_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !SUPPORTED.contains(&model_type.as_str()) {
            return Err(Error::Config {
                path: path.to_path_buf(),
                line: None,
                reason: format!(
                    "unsupported model_type {model_type:?}; supported: {}",
                    SUPPORTED.join(", ")
                ),
            });
        }
        let hidden = f.req("hidden_size")?;
        let layers = f.req("num_hidden_layers")?;
        let heads = f.req("num_attention_heads")?;
        let is_deepseek = model_type.starts_with("deepseek");
        let attention = if is_deepseek && f.opt("kv_lora_rank").is_some() {
            Attention::Mla {
                heads,
                q_lora: f.opt("q_lora_rank"),
                kv_lora: f.req("kv_lora_rank")?,
                nope: f.req("qk_nope_head_dim")?,
                rope: f.req("qk_rope_head_dim")?,
                v: f.req("v_head_dim")?,
            }
        } else {
            Attention::Gqa {
                heads,
                kv_heads: f.opt("num_key_value_heads").unwrap_or(heads),
                head_dim: f.opt("head_dim").unwrap_or(hidden / heads),
                // Qwen2 projections carry q/k/v biases; others declare `attention_bias`.
                bias: f.flag("attention_bias")
                    || matches!(model_type.as_str(), "qwen2" | "qwen2_moe"),
                qk_norm: model_type.starts_with("qwen3"),
            }
        };
        let (moe, moe_layers) = match model_type.as_str() {
            "qwen2_moe" | "qwen3_moe" => {
                let step = f.opt("decoder_sparse_step").unwrap_or(1).max(1);
                let dense: Vec<u64> = json
                    .get("mlp_only_layers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default();
                let shared_ff = f.opt("shared_expert_intermediate_size").unwrap_or(0);
                let moe = Moe {
                    experts: f.req("num_experts")?,
                    top_k: f.req("num_experts_per_tok")?,
                    expert_ff: f.req("moe_intermediate_size")?,
                    shared_ff,
                    shared_gate: shared_ff > 0,
                    router_bias: false,
                };
                let layers_are_moe = (0..layers)
                    .map(|i| !dense.contains(&i) && (i + 1) % step == 0)
                    .collect();
                (Some(moe), layers_are_moe)
            }
            "mixtral" => {
                let moe = Moe {
                    experts: f.req("num_local_experts")?,
                    top_k: f.req("num_experts_per_tok")?,
                    expert_ff: f.req("intermediate_size")?,
                    shared_ff: 0,
                    shared_gate: false,
                    router_bias: false,
                };
                (Some(moe), vec![true; layers as usize])
            }
            "deepseek_v2" | "deepseek_v3" => {
                let expert_ff = f.req("moe_intermediate_size")?;
                let first_dense = f.opt("first_k_dense_replace").unwrap_or(0);
                let freq = f.opt("moe_layer_freq").unwrap_or(1).max(1);
                let moe = Moe {
                    experts: f.req("n_routed_experts")?,
                    top_k: f.req("num_experts_per_tok")?,
                    expert_ff,
                    shared_ff: f.opt("n_shared_experts").unwrap_or(0) * expert_ff,
                    shared_gate: false,
                    router_bias: json.get("topk_method").and_then(Value::as_str)
                        == Some("noaux_tc"),
                };
                let layers_are_moe = (0..layers)
                    .map(|i| i >= first_dense && i % freq == 0)
                    .collect();
                (Some(moe), layers_are_moe)
            }
            _ => (None, vec![false; layers as usize]),
        };
        let fp8 = json
            .pointer("/quantization_config/quant_method")
            .and_then(Value::as_str)
            .is_some_and(|m| m.contains("fp8"));
        Ok(Arch {
            model_type,
            hidden,
            layers,
            vocab: f.req("vocab_size")?,
            tie_embeddings: f.flag("tie_word_embeddings"),
            attention,
            dense_ff: f.opt("intermediate_size").unwrap_or(0),
            moe,
            moe_layers,
            weight_bytes: if fp8 { 1 } else { 2 },
        })
    }

    /// Number of MoE layers.
    pub fn moe_layer_count(&self) -> u64 {
        self.moe_layers.iter().filter(|m| **m).count() as u64
    }

    /// Number of dense-MLP layers.
    pub fn dense_layer_count(&self) -> u64 {
        self.layers - self.moe_layer_count()
    }
}
