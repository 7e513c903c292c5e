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

/// A parsed step label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// `prefill`, `decode`, `mixed` (engine markers), or whatever phase name the
    /// harness used.
    pub phase: String,
    pub bsz: i32,
    /// The harness's sequence length; for engine markers the tokens each request
    /// ran in the step, `None` where the marker does not say.
    pub seq: Option<i32>,
    pub iter: Option<i32>,
    /// The counts an engine's step marker states (`None` for the harness's labels).
    pub tokens: Option<StepTokens>,
}

/// Per-phase counts of one engine step: requests and the tokens they ran, and the
/// KV length after the step summed over requests. `None` where the marker does not
/// say; 0 where it says there were none (a decode step's prefill side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StepTokens {
    pub prefill_reqs: Option<u64>,
    pub prefill_tokens: Option<u64>,
    pub decode_reqs: Option<u64>,
    pub decode_tokens: Option<u64>,
    pub kv_tokens: Option<u64>,
}

impl StepTokens {
    /// Counts from (requests, tokens) per phase, where known.
    pub fn of(prefill: Option<(u64, u64)>, decode: Option<(u64, u64)>, kv: Option<u64>) -> Self {
        StepTokens {
            prefill_reqs: prefill.map(|p| p.0),
            prefill_tokens: prefill.map(|p| p.1),
            decode_reqs: decode.map(|d| d.0),
            decode_tokens: decode.map(|d| d.1),
            kv_tokens: kv,
        }
    }

    /// All tokens of the step, when both phases' counts are known.
    pub fn total(&self) -> Option<u64> {
        self.prefill_tokens?.checked_add(self.decode_tokens?)
    }

    /// Whether the counts can describe one step of `requests` requests: each
    /// request runs at least one token and tokens belong to requests; the phases'
    /// requests add up (at most `requests` while one side is unknown); the KV total
    /// covers the step's own tokens; every count fits an int64 column.
    pub fn possible(&self, requests: u64) -> bool {
        let side = |reqs: Option<u64>, tokens: Option<u64>| match (reqs, tokens) {
            (Some(r), Some(t)) => t >= r && (r == 0) == (t == 0),
            (None, None) => true,
            _ => false,
        };
        let known_reqs = self
            .prefill_reqs
            .unwrap_or(0)
            .checked_add(self.decode_reqs.unwrap_or(0));
        let reqs_add_up = match (self.prefill_reqs, self.decode_reqs, known_reqs) {
            (Some(_), Some(_), Some(sum)) => sum == requests,
            (_, _, Some(sum)) => sum <= requests,
            (_, _, None) => false,
        };
        let kv_covers = match (self.kv_tokens, self.total()) {
            (Some(kv), Some(total)) => kv >= total,
            _ => true,
        };
        let fits = [
            self.prefill_reqs,
            self.prefill_tokens,
            self.decode_reqs,
            self.decode_tokens,
            self.kv_tokens,
        ]
        .iter()
        .flatten()
        .all(|v| i64::try_from(*v).is_ok());
        side(self.prefill_reqs, self.prefill_tokens)
            && side(self.decode_reqs, self.decode_tokens)
            && reqs_add_up
            && kv_covers
            && fits
    }
}

/// Why text that is shaped like a step label was refused (a survey reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `bsz` or `seq` is not an integer in 1..=2^31-1 (e.g. `-1`, `abc`, `1e30`).
    Shape,
    /// `iter` is not an integer in 0..=2^31-1.
    Iter,
    /// A field is repeated, unknown, lacks `=`, or `bsz`/`seq` is missing.
    Fields,
    /// An engine step with no requests (vLLM's empty step, SGLang's `IDLE bs=0`).
    EngineEmpty,
    /// An engine step whose counts are impossible: tokens without requests (or the
    /// reverse), fewer tokens than requests, sums that disagree, a `bsz`/`seq` beyond
    /// 2^31-1.
    EngineCounts,
    /// Begins like vLLM's step annotation (`execute_…context_…_generation_…`) but is
    /// in none of its forms.
    VllmForm,
    /// Begins like SGLang's step marker (`step[`) but is not `step[MODE key=value…]`.
    SglangForm,
}

impl Refusal {
    /// The survey reason for this refusal.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Shape => {
                "step label with bsz/seq not an integer in 1..=2147483647 (step not attributed)"
            }
            Refusal::Iter => {
                "step label with iter not an integer in 0..=2147483647 (step not attributed)"
            }
            Refusal::Fields => {
                "step label with a missing, repeated or unknown field (step not attributed)"
            }
            Refusal::EngineEmpty => {
                "engine step marker with no requests (SGLang IDLE, an empty vLLM step): no phase (step not attributed)"
            }
            Refusal::EngineCounts => {
                "engine step marker with impossible request/token counts (step not attributed)"
            }
            Refusal::VllmForm => {
                "vLLM-like step annotation (execute_…context_…_generation_…) in none of vLLM's forms (step not attributed)"
            }
            Refusal::SglangForm => {
                "SGLang-like step marker not in SGLang's step[MODE bs=… key=value…] form (step not attributed)"
            }
        }
    }
}

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
