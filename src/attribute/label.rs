//! The step label convention: `[trace:]<phase>|bsz=<b>|seq=<s>|iter=<i>`.
//!
//! The harness names every timed forward this way, both as an NVTX range and as a
//! PyTorch `record_function`. The `trace:` prefix is optional, `iter` may be absent
//! (e.g. hand-annotated ranges), and fields after the phase may come in any order.
//!
//! vLLM V1's own per-step range is a label too:
//! `execute_context_<n>(<ctx_tokens>)_generation_<m>(<gen_tokens>)`, which
//! `Worker.annotate_profile` (vllm-project/vllm `vllm/v1/worker/gpu_worker.py`) wraps
//! around `execute_model` when the torch profiler is on, with the counts of
//! `compute_iteration_details` (`vllm/v1/utils.py`): requests still in prefill (new
//! ones and chunked-prefill continuations) and the tokens scheduled for them, then the
//! requests generating and their tokens. A pure decode step (`n = 0`) is phase
//! `decode` with `bsz = m`, `seq = ⌈gen_tokens / m⌉`; a pure prefill step (`m = 0`) is
//! `prefill` with `bsz = n`, `seq = ⌈ctx_tokens / n⌉`. `seq` is then the tokens each
//! request ran this step (1 per decode request without speculative decoding, the mean
//! prompt chunk in prefill), not the context length. Mixed and empty steps are
//! refused, counted ([`Refusal`]). See [`Label::check`].
//!
//! Anything else is not a label and is ignored for attribution.

/// A parsed step label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// `prefill`, `decode`, or whatever phase name the harness used.
    pub phase: String,
    pub bsz: i32,
    pub seq: i32,
    pub iter: Option<i32>,
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
    /// vLLM step with both prefill and decode requests (chunked prefill).
    VllmMixed,
    /// vLLM step with no requests at all.
    VllmEmpty,
    /// vLLM step whose counts are impossible: tokens without requests (or the
    /// reverse), fewer tokens than requests, or a `bsz`/`seq` beyond 2^31-1.
    VllmCounts,
    /// Begins like vLLM's step annotation (`execute_context_…_generation_…`) but is
    /// not exactly its form (nor TraceLens's `(<tokens>_<sum of squares>)` variant).
    VllmForm,
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
            Refusal::VllmMixed => {
                "vLLM mixed prefill+decode step: not a single phase (step not attributed)"
            }
            Refusal::VllmEmpty => "vLLM step with no requests: no phase (step not attributed)",
            Refusal::VllmCounts => {
                "vLLM step with impossible request/token counts (step not attributed)"
            }
            Refusal::VllmForm => {
                "vLLM-like step annotation not in vLLM's exact \
                 execute_context_<n>(<tokens>)_generation_<m>(<tokens>) form (step not attributed)"
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
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq, l.iter), ("decode", 4, 512, Some(2)));
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
    /// vLLM V1's step range `execute_context_<n>(<ctx_tokens>)_generation_<m>(<gen_tokens>)`
    /// (exactly: ASCII decimal counts without sign or leading zeros, nothing before or
    /// after) is a label as well: `m` decode requests alone are phase `decode`, `bsz = m`,
    /// `seq = ⌈gen_tokens / m⌉`; `n` prefill requests alone are phase `prefill`,
    /// `bsz = n`, `seq = ⌈ctx_tokens / n⌉`; `iter` is `None`. Both kinds at once, or
    /// none, is refused ([`Refusal::VllmMixed`], [`Refusal::VllmEmpty`]).
    ///
    /// ```
    /// use sgl_trace::attribute::Label;
    /// let l = Label::parse("execute_context_0(0)_generation_4(4)").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq, l.iter), ("decode", 4, 1, None));
    /// let l = Label::parse("execute_context_2(1000)_generation_0(0)").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("prefill", 2, 500));
    /// assert!(Label::check("execute_context_1(8)_generation_3(3)").is_err());
    /// ```
    pub fn check(text: &str) -> Result<Option<Label>, Refusal> {
        if let Some(vllm) = vllm_step(text) {
            return vllm.map(Some);
        }
        let text = text.trim();
        let text = text.strip_prefix("trace:").unwrap_or(text);
        // Padded or prefixed, vLLM's form is not exact: refused, and never a phase
        // name of the convention below (which would not parse back the same).
        if vllm_shaped(text) {
            return Err(Refusal::VllmForm);
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
            seq: seq.ok_or(Refusal::Fields)?,
            iter,
        }))
    }
}

/// The prefix that marks text as vLLM's step annotation (see [`Label::check`]).
const VLLM_PREFIX: &str = "execute_context_";

/// Text that begins like vLLM's step annotation: `execute_context_…_generation_…`.
fn vllm_shaped(text: &str) -> bool {
    text.strip_prefix(VLLM_PREFIX)
        .is_some_and(|rest| rest.contains("_generation_"))
}

/// vLLM V1's step annotation: `None` when `text` does not begin like it, else the
/// label or why it was refused. A hand parser, anchored at both ends.
fn vllm_step(text: &str) -> Option<Result<Label, Refusal>> {
    if !vllm_shaped(text) {
        return None;
    }
    let rest = &text[VLLM_PREFIX.len()..];
    let counts = (|| {
        let (ctx_reqs, rest) = vllm_count(rest)?;
        let rest = rest.strip_prefix('(')?;
        let (ctx_tokens, ctx_squares, rest) = vllm_tokens(rest)?;
        let rest = rest.strip_prefix(")_generation_")?;
        let (gen_reqs, rest) = vllm_count(rest)?;
        let rest = rest.strip_prefix('(')?;
        let (gen_tokens, gen_squares, rest) = vllm_tokens(rest)?;
        (rest == ")").then_some((
            (ctx_reqs, ctx_tokens, ctx_squares),
            (gen_reqs, gen_tokens, gen_squares),
        ))
    })();
    let Some((ctx, generation)) = counts else {
        return Some(Err(Refusal::VllmForm));
    };
    if !squares_possible(ctx) || !squares_possible(generation) {
        return Some(Err(Refusal::VllmCounts));
    }
    Some(vllm_label(ctx.0, ctx.1, generation.0, generation.1))
}

/// A token count, optionally followed by `_<sum of squared per-request tokens>`:
/// the form TraceLens's vLLM instrumentation patch writes (AMD-AGI/TraceLens,
/// examples/custom_workflows/inference_analysis/vllm_patches; seen in
/// fixtures/public/vllm_gptoss_b200_tp8_prefill_rank0.json.gz as `(888_788544)`).
#[allow(clippy::type_complexity)]
fn vllm_tokens(text: &str) -> Option<(Option<u64>, Option<Option<u64>>, &str)> {
    let (tokens, rest) = vllm_count(text)?;
    match rest.strip_prefix('_') {
        Some(rest) => {
            let (squares, rest) = vllm_count(rest)?;
            Some((tokens, Some(squares), rest))
        }
        None => Some((tokens, None, rest)),
    }
}

/// A sum of squares `s` of `reqs` per-request token counts summing to `tokens`
/// lies in `tokens²/reqs ..= tokens²` (true when absent).
fn squares_possible(
    (reqs, tokens, squares): (Option<u64>, Option<u64>, Option<Option<u64>>),
) -> bool {
    let Some(squares) = squares else { return true };
    let (Some(reqs), Some(tokens), Some(squares)) = (reqs, tokens, squares) else {
        return false;
    };
    let (reqs, tokens, squares) = (u128::from(reqs), u128::from(tokens), u128::from(squares));
    let square = tokens * tokens;
    match reqs {
        0 => tokens == 0 && squares == 0,
        _ => squares <= square && squares * reqs >= square,
    }
}

/// One count as Python's `str(int)` writes a non-negative one: ASCII digits, no
/// sign, no leading zero. `Some((None, rest))` for digits too many for a u64.
fn vllm_count(text: &str) -> Option<(Option<u64>, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = text.split_at(digits);
    if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    Some((number.parse().ok(), rest))
}

/// The label of a vLLM step from its four counts (`None`: beyond a u64).
fn vllm_label(
    ctx_reqs: Option<u64>,
    ctx_tokens: Option<u64>,
    gen_reqs: Option<u64>,
    gen_tokens: Option<u64>,
) -> Result<Label, Refusal> {
    let (Some(ctx_reqs), Some(ctx_tokens), Some(gen_reqs), Some(gen_tokens)) =
        (ctx_reqs, ctx_tokens, gen_reqs, gen_tokens)
    else {
        return Err(Refusal::VllmCounts);
    };
    // Every scheduled request runs at least one token, and tokens belong to requests.
    let possible = |reqs: u64, tokens: u64| tokens >= reqs && (reqs == 0) == (tokens == 0);
    if !possible(ctx_reqs, ctx_tokens) || !possible(gen_reqs, gen_tokens) {
        return Err(Refusal::VllmCounts);
    }
    let (phase, reqs, tokens) = match (ctx_reqs, gen_reqs) {
        (0, 0) => return Err(Refusal::VllmEmpty),
        (0, m) => ("decode", m, gen_tokens),
        (n, 0) => ("prefill", n, ctx_tokens),
        _ => return Err(Refusal::VllmMixed),
    };
    let shape = |v: u64| i32::try_from(v).ok().filter(|v| *v > 0);
    Ok(Label {
        phase: phase.to_string(),
        bsz: shape(reqs).ok_or(Refusal::VllmCounts)?,
        seq: shape(tokens.div_ceil(reqs)).ok_or(Refusal::VllmCounts)?,
        iter: None,
    })
}

#[cfg(test)]
#[path = "label_tests.rs"]
mod tests;
