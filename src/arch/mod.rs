//! Model accounting from a Hugging Face `config.json`: parameters by component,
//! forward FLOPs by component for a (phase, batch, sequence) shape, bytes read
//! (weights and KV cache), and the peak throughputs MFU/MBU are measured against.
//!
//! Conventions (stated in every output): FLOPs count matrix multiplies only, 2 per
//! multiply-accumulate; prefill attention is causal, `2·S²·h·d_h` per layer and
//! sequence for QKᵀ+PV (half the unmasked `4·S²·h·d_h`); decode attends to a context
//! of `seq` tokens; the prefill LM head runs on the last token of each sequence only.

pub mod config;
pub mod flops;
pub mod params;
pub mod peaks;

pub use config::{Arch, Attention, Moe};
pub use flops::{Forward, Phase};

/// Serializes `(name, value)` pairs as a JSON object, keeping their order.
fn components_as_map<S: serde::Serializer>(
    items: &[(&'static str, u64)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(items.len()))?;
    for (name, value) in items {
        map.serialize_entry(name, value)?;
    }
    map.end()
}
