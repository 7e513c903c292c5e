//! Parameter counts by component, and the active parameters per token of MoE models.
//!
//! Components: embedding, attention (projections, biases), norms (layer norms,
//! Qwen3 q/k norms, MLA latent norms), dense_mlp, experts (routed), shared_experts,
//! router, lm_head (0 when tied to the embedding). DeepSeek's multi-token-prediction
//! layer (`num_nextn_predict_layers`) is not part of the served forward and is not counted.

use super::config::{Arch, Attention};

/// Parameters of one attention block: (projection weights + biases, norm weights).
pub fn attention_block(arch: &Arch) -> (u64, u64) {
    let d = arch.hidden;
    match arch.attention {
        Attention::Gqa {
            heads,
            kv_heads,
            head_dim,
            bias,
            qk_norm,
        } => {
            let weights = d * heads * head_dim + 2 * d * kv_heads * head_dim + heads * head_dim * d;
            let biases = if bias {
                heads * head_dim + 2 * kv_heads * head_dim
            } else {
                0
            };
            (weights + biases, if qk_norm { 2 * head_dim } else { 0 })
        }
        Attention::Mla {
            q_lora, kv_lora, ..
        } => {
            let (per_token, kv_up) = mla_weights(arch);
            (per_token + kv_up, q_lora.unwrap_or(0) + kv_lora)
        }
    }
}

/// MLA projection weights: (those applied once per query token — the q path,
/// kv_a and o — and kv_b, the latent up-projection whose use depends on the path).
/// (0, 0) for GQA models.
pub fn mla_weights(arch: &Arch) -> (u64, u64) {
    let d = arch.hidden;
    match arch.attention {
        Attention::Mla {
            heads,
            q_lora,
            kv_lora,
            nope,
            rope,
            v,
        } => {
            let q = match q_lora {
                Some(r) => d * r + r * heads * (nope + rope),
                None => d * heads * (nope + rope),
            };
            (
                q + d * (kv_lora + rope) + heads * v * d,
                kv_lora * heads * (nope + v),
            )
        }
        Attention::Gqa { .. } => (0, 0),
    }
}

/// Parameters of one routed expert (gate, up, down).
pub fn expert(arch: &Arch) -> u64 {
    arch.moe
        .as_ref()
        .map_or(0, |m| 3 * arch.hidden * m.expert_ff)
}

/// Parameter counts of a model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamCount {
    /// (component, parameters), in a fixed order (a JSON object in output).
    #[serde(serialize_with = "super::components_as_map")]
    pub components: Vec<(&'static str, u64)>,
    pub total: u64,
    /// Parameters touched per token: everything but the routed experts not chosen.
    pub active: u64,
}

/// Counts the parameters of `arch`.
pub fn count(arch: &Arch) -> ParamCount {
    let d = arch.hidden;
    let (attention, attention_norms) = attention_block(arch);
    let moe_layers = arch.moe_layer_count();
    let (experts, shared, router, active_experts) = match &arch.moe {
        Some(m) => (
            moe_layers * m.experts * expert(arch),
            moe_layers * (3 * d * m.shared_ff + if m.shared_gate { d } else { 0 }),
            moe_layers * (d * m.experts + if m.router_bias { m.experts } else { 0 }),
            moe_layers * m.top_k * expert(arch),
        ),
        None => (0, 0, 0, 0),
    };
    let components = vec![
        ("embedding", arch.vocab * d),
        ("attention", arch.layers * attention),
        ("norms", arch.layers * (2 * d + attention_norms) + d),
        (
            "dense_mlp",
            arch.dense_layer_count() * 3 * d * arch.dense_ff,
        ),
        ("experts", experts),
        ("shared_experts", shared),
        ("router", router),
        (
            "lm_head",
            if arch.tie_embeddings {
                0
            } else {
                arch.vocab * d
            },
        ),
    ];
    let total = components.iter().map(|(_, n)| n).sum::<u64>();
    ParamCount {
        total,
        active: total - experts + active_experts,
        components,
    }
}
