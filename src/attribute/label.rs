//! The step label convention: `[trace:]<phase>|bsz=<b>|seq=<s>|iter=<i>`.
//!
//! The harness names every timed forward this way, both as an NVTX range and as a
//! PyTorch `record_function`. The `trace:` prefix is optional, `iter` may be absent
//! (e.g. hand-annotated ranges), and fields after the phase may come in any order.
//!
//! Serving engines' own step markers are labels too: SGLang's `step[DECODE bs=32]`,
//! vLLM V1's `execute_context_<n>(<tokens>)_generation_<m>(<tokens>)` and its
//! detailed form; [`super::engine_steps`] reads them (phases `prefill`, `decode`,
//! `mixed`, …, with the per-phase counts in [`StepTokens`]).
//!
//! Anything else is not a label and is ignored for attribution.

use super::engine_steps;
pub use super::step::{Label, Refusal, StepTokens};

/// Parses a batch size or sequence length: an integer in 1..=`i32::MAX`. The one
/// rule shared by labels and the capture grid, so the grid never plans a shape the
/// label parser would refuse.
pub fn shape_value(text: &str) -> Option<i32> {
    text.trim().parse::<i32>().ok().filter(|v| *v > 0)
}

impl Label {
    /// Parses `text`; returns `None` when it does not follow the convention.
    ///
    /// ```
    /// use sgl_trace::attribute::Label;
    /// let l = Label::parse("trace:decode|bsz=4|seq=512|iter=2").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq, l.iter), ("decode", 4, Some(512), Some(2)));
    /// assert!(Label::parse("cub::DeviceReduce::Sum").is_none());
    /// assert!(Label::parse("decode|bsz=-1|seq=8").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Label> {
        Label::check(text).ok().flatten()
    }

    /// Like [`Label::parse`], but tells text that is no label at all (`Ok(None)`)
    /// from a label with impossible values (`Err`), which importers count.
    /// Label-shaped means: a phase, then `|`-separated fields, one of them `bsz=` or
    /// `seq=`.
    ///
    /// Engine step markers (exactly: ASCII decimal counts without sign or leading
    /// zeros, nothing before or after) are labels as well, read by
    /// [`super::engine_steps`]: requests in prefill alone are phase `prefill`, in
    /// decode alone `decode`, both `mixed`; `bsz` = requests, `seq` = ⌈tokens /
    /// requests⌉; `iter` is `None`. A step with no requests is refused
    /// ([`Refusal::EngineEmpty`]).
    ///
    /// ```
    /// use sgl_trace::attribute::Label;
    /// let l = Label::parse("execute_context_0(0)_generation_4(4)").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq, l.iter), ("decode", 4, Some(1), None));
    /// let l = Label::parse("execute_context_2(1000)_generation_0(0)").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("prefill", 2, Some(500)));
    /// let l = Label::parse("execute_context_1(8)_generation_3(3)").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("mixed", 4, Some(3)));
    /// let l = Label::parse("step[EXTEND bs=15 toks=15360]").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("prefill", 15, Some(1024)));
    /// ```
    pub fn check(text: &str) -> Result<Option<Label>, Refusal> {
        if let Some(step) =
            engine_steps::vllm_step(text).or_else(|| engine_steps::sglang_step(text))
        {
            return step.map(Some);
        }
        let text = text.trim();
        let text = text.strip_prefix("trace:").unwrap_or(text);
        // Padded or prefixed, an engine's marker is not exact: refused, and never a
        // phase name of the convention below (which would not parse back the same).
        if engine_steps::vllm_step(text).is_some() {
            return Err(Refusal::VllmForm);
        }
        if engine_steps::sglang_step(text).is_some() {
            return Err(Refusal::SglangForm);
        }
        let mut parts = text.split('|');
        let phase = parts.next().unwrap_or_default().trim();
        // A phase that begins like an engine marker would read back as that marker
        // (found by the label fuzz target: `trace: step[x|bsz=7|seq=3`).
        if phase.starts_with("step[") {
            return Err(Refusal::SglangForm);
        }
        if engine_steps::vllm_step(phase).is_some() {
            return Err(Refusal::VllmForm);
        }
        let fields: Vec<&str> = parts.collect();
        let label_shaped = fields.iter().any(|f| {
            let key = f.split('=').next().unwrap_or_default().trim();
            key == "bsz" || key == "seq"
        });
        // A phase is one word: no `=`, no whitespace and no `:` (so the optional
        // `trace:` prefix is never ambiguous: `trace:trace:x|…` is no label).
        if phase.is_empty()
            || phase.contains('=')
            || phase.contains(':')
            || phase.contains(char::is_whitespace)
            || !label_shaped
        {
            return Ok(None);
        }
        let (mut bsz, mut seq, mut iter) = (None, None, None);
        for part in fields {
            let (key, value) = part.split_once('=').ok_or(Refusal::Fields)?;
            let (slot, value) = match key.trim() {
                "bsz" => (&mut bsz, shape_value(value).ok_or(Refusal::Shape)?),
                "seq" => (&mut seq, shape_value(value).ok_or(Refusal::Shape)?),
                "iter" => (
                    &mut iter,
                    value
                        .trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|i| *i >= 0)
                        .ok_or(Refusal::Iter)?,
                ),
                _ => return Err(Refusal::Fields),
            };
            if slot.replace(value).is_some() {
                return Err(Refusal::Fields);
            }
        }
        Ok(Some(Label {
            phase: phase.to_string(),
            bsz: bsz.ok_or(Refusal::Fields)?,
            seq: Some(seq.ok_or(Refusal::Fields)?),
            iter,
            tokens: None,
        }))
    }
}

#[cfg(test)]
#[path = "label_tests.rs"]
mod tests;
