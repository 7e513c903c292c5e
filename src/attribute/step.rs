//! What a labelled step is: its [`Label`] (phase, batch size, seq, iteration and
//! the per-phase counts an engine marker states, [`StepTokens`]) and why text shaped
//! like a label was refused ([`Refusal`]). The parsers live in [`super::label`] (the
//! harness's convention, and the one entry point) and [`super::engine_steps`]
//! (SGLang's and vLLM's markers); both build these types, so neither imports the
//! other's internals.

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
