//! Forward FLOPs and bytes read for one (phase, batch, sequence) shape.
//!
//! Matmul FLOPs only, 2 per multiply-accumulate. Prefill: `bsz` sequences of `seq`
//! new tokens, no cached prefix, causal attention counted as
//! `2·B·S²·h·d_h` per layer (the unmasked convention would be `4·B·S²·h·d_h`), LM head
//! on the last token of each sequence. Decode: one new token per sequence attending
//! to a context of `seq` tokens. MLA runs non-absorbed in prefill and absorbed in
//! decode (SGLang's defaults), unless told otherwise.

use super::config::{Arch, Attention};
use super::params::{self, attention_block};

/// Forward phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Prefill,
    Decode,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prefill => "prefill",
            Phase::Decode => "decode",
        }
    }

    /// The one phase parser of the crate, strict: exactly `prefill` or `decode`.
    /// Any other phase (a hand-made label's `warmup`, say) is `None`, and callers
    /// count it as skipped under [`UNKNOWN_PHASE`] rather than guess.
    pub fn parse(text: &str) -> Option<Phase> {
        match text {
            "prefill" => Some(Phase::Prefill),
            "decode" => Some(Phase::Decode),
            _ => None,
        }
    }
}

/// Why a shape got no FLOPs: its phase is neither `prefill` nor `decode`.
pub const UNKNOWN_PHASE: &str =
    "phase other than prefill/decode: no model FLOPs for its shape (skipped)";

/// MLA computation path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MlaPath {
    /// Up-project the latent KV to full heads (MHA over `nope+rope`).
    Mha,
    /// Absorb `W_UK`/`W_UV` into the query/output (MQA over the latent).
    Absorbed,
}

/// One forward as the FLOP model takes it: a typed phase and its batch size ×
/// sequence length (a stored step's [`crate::vocab::Shape`], once its phase parses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Forward {
    pub phase: Phase,
    pub bsz: u64,
    pub seq: u64,
}

/// FLOPs and bytes of one forward.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlopCount {
    pub shape: Forward,
    /// (component, FLOPs), in a fixed order (a JSON object in output).
    #[serde(serialize_with = "super::components_as_map")]
    pub components: Vec<(&'static str, u64)>,
    pub total: u64,
    /// Weight bytes read (embedding rows excluded; routed experts: the expected
    /// distinct experts the batch's tokens hit, [`expected_distinct_experts`]).
    pub weight_bytes: u64,
    /// KV-cache bytes read by attention (BF16 cache).
    pub kv_bytes: u64,
    pub attention_convention: &'static str,
    pub mla_path: Option<MlaPath>,
}

const KV_CACHE_BYTES: u64 = 2;

/// Expected number of distinct experts that `tokens` routed tokens touch in one
/// MoE layer of `experts` experts with top-`top_k` routing, assuming uniform,
/// independent routing: each expert is missed by one token with probability
/// `1 − k/E`, so `E·(1 − (1 − k/E)^tokens)`. Equals `k` for one token and tends
/// to `E` as tokens grow; never more than `min(E, tokens·k)`.
pub fn expected_distinct_experts(experts: u64, top_k: u64, tokens: u64) -> f64 {
    if experts == 0 {
        return 0.0;
    }
    let e = experts as f64;
    let k = (top_k.min(experts)) as f64;
    let miss = 1.0 - k / e;
    let t = i32::try_from(tokens).unwrap_or(i32::MAX);
    e * (1.0 - miss.powi(t))
}

/// FLOPs of `arch` for `shape`; `mla` overrides the MLA path.
pub fn count(arch: &Arch, shape: Forward, mla: Option<MlaPath>) -> FlopCount {
    let d = arch.hidden;
    let (b, s) = (shape.bsz, shape.seq);
    let prefill = shape.phase == Phase::Prefill;
    let tokens = if prefill { b * s } else { b };
    let layers = arch.layers;
    // (query, key) pairs each sequence's attention evaluates; causal prefill ~ S²/2.
    let pairs = if prefill { b * s * s / 2 } else { b * s };
    let kv_tokens_read = b * s;

    let (projection, scores, kv_elements, mla_path) = match arch.attention {
        Attention::Gqa {
            heads,
            kv_heads,
            head_dim,
            ..
        } => {
            let (weights, _) = attention_block(arch);
            let scores = 2 * 2 * pairs * heads * head_dim; // QKᵀ + PV
            (2 * tokens * weights, scores, 2 * kv_heads * head_dim, None)
        }
        Attention::Mla {
            heads,
            kv_lora,
            nope,
            rope,
            v,
            ..
        } => {
            let path = mla.unwrap_or(if prefill {
                MlaPath::Mha
            } else {
                MlaPath::Absorbed
            });
            let (shared, _) = params::mla_weights(arch);
            let (extra, scores) = match path {
                // kv_b up-projects every KV token; scores over nope+rope, PV over v.
                MlaPath::Mha => (
                    2 * kv_tokens_read * kv_lora * heads * (nope + v),
                    2 * pairs * heads * (nope + rope) + 2 * pairs * heads * v,
                ),
                // W_UK on the query, W_UV on the output; MQA over the latent.
                MlaPath::Absorbed => (
                    2 * tokens * heads * kv_lora * (nope + v),
                    2 * pairs * heads * (kv_lora + rope) + 2 * pairs * heads * kv_lora,
                ),
            };
            (
                2 * tokens * shared + extra,
                scores,
                kv_lora + rope,
                Some(path),
            )
        }
    };

    let moe_layers = arch.moe_layer_count();
    let (experts, shared, router, experts_read) = match &arch.moe {
        Some(m) => (
            moe_layers * 2 * tokens * m.top_k * params::expert(arch),
            moe_layers * 2 * tokens * 3 * d * m.shared_ff,
            moe_layers * 2 * tokens * d * m.experts,
            moe_layers
                * (expected_distinct_experts(m.experts, m.top_k, tokens)
                    * params::expert(arch) as f64)
                    .round() as u64,
        ),
        None => (0, 0, 0, 0),
    };
    let components = vec![
        ("attention_proj", layers * projection),
        ("attention_scores", layers * scores),
        (
            "dense_mlp",
            arch.dense_layer_count() * 2 * tokens * 3 * d * arch.dense_ff,
        ),
        ("experts", experts),
        ("shared_experts", shared),
        ("router", router),
        ("lm_head", 2 * b * d * arch.vocab),
    ];
    let total = components.iter().map(|(_, n)| n).sum();

    let p = params::count(arch);
    let all_experts = p
        .components
        .iter()
        .find(|(c, _)| *c == "experts")
        .map_or(0, |(_, n)| *n);
    let embedding = p
        .components
        .iter()
        .find(|(c, _)| *c == "embedding")
        .map_or(0, |(_, n)| *n);
    let weight_bytes = (p.total - all_experts - embedding + experts_read) * arch.weight_bytes;
    let kv_bytes = layers * kv_tokens_read * kv_elements * KV_CACHE_BYTES;
    FlopCount {
        shape,
        components,
        total,
        weight_bytes,
        kv_bytes,
        attention_convention: "causal: prefill QK^T+PV = 2*S^2*h*d_h per layer and sequence (unmasked would be 4*S^2*h*d_h)",
        mla_path,
    }
}

#[cfg(test)]
mod tests {
    use super::{expected_distinct_experts, Phase};

    /// Mean union size over every assignment of a k-subset of E experts to each
    /// of T tokens, by enumeration.
    fn enumerated(experts: u32, top_k: u32, tokens: u32) -> f64 {
        let subsets: Vec<u32> = (0u32..1 << experts)
            .filter(|m| m.count_ones() == top_k)
            .collect();
        let mut total = 0u64;
        let mut count = 0u64;
        let mut index = vec![0usize; tokens as usize];
        loop {
            let union = index.iter().fold(0u32, |acc, &i| acc | subsets[i]);
            total += u64::from(union.count_ones());
            count += 1;
            let mut position = 0;
            loop {
                if position == index.len() {
                    return total as f64 / count as f64;
                }
                index[position] += 1;
                if index[position] < subsets.len() {
                    break;
                }
                index[position] = 0;
                position += 1;
            }
        }
    }

    #[test]
    fn expected_distinct_experts_matches_enumeration() {
        for (e, k, t) in [(4, 2, 2), (5, 2, 3), (6, 1, 4), (6, 3, 3), (8, 2, 1)] {
            let want = enumerated(e, k, t);
            let got = expected_distinct_experts(u64::from(e), u64::from(k), u64::from(t));
            assert!(
                (got - want).abs() < 1e-9,
                "E={e} k={k} T={t}: {got} vs {want}"
            );
        }
        assert_eq!(expected_distinct_experts(128, 8, 1), 8.0);
        let many = expected_distinct_experts(128, 8, 4096);
        assert!(many <= 128.0 && many > 127.99, "{many}");
        assert!(expected_distinct_experts(128, 8, 4) < 32.0);
    }

    #[test]
    fn phase_parser_is_strict() {
        assert_eq!(Phase::parse("prefill"), Some(Phase::Prefill));
        assert_eq!(Phase::parse("decode"), Some(Phase::Decode));
        for other in ["warmup", "Decode", " decode", "extend", ""] {
            assert_eq!(Phase::parse(other), None, "{other:?}");
        }
        for phase in [Phase::Prefill, Phase::Decode] {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
    }
}
