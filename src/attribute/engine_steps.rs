//! The step markers serving engines write themselves, read as step labels: SGLang's
//! `step[…]` and vLLM V1's `execute_…` annotations. Each marker states how many
//! requests ran and (mostly) how many tokens; a step can be prefill, decode, or
//! `mixed` (both in one batch, the normal case under chunked prefill).
//!
//! **SGLang** (`ModelRunner.forward`, 0.5.11 on; `build_step_span_name` in
//! `srt/utils/profile_utils.py` from 0.5.16), a torch-profiler `record_function`
//! around every forward, CUDA-graph replays included:
//! `step[<MODE> bs=<requests>[ toks=<new tokens>][ key=value…]]` with MODE one of
//! `EXTEND`, `DECODE`, `MIXED`, `IDLE`, `TARGET_VERIFY`/`VERIFY`, `DRAFT_EXTEND`,
//! `DRAFT_EXTEND_V2`, `DRAFT`, `DLLM_EXTEND`, and `step[DRAFT_LOOP raw_bs=R bs=B
//! topk=K]`. With `detailed_annotations` (0.5.19+) the marker adds per-phase sums:
//! `c=`/`g=` (context/generation requests, MIXED), `c_sq`/`g_sq` (query tokens),
//! `c_sk`/`g_sk` (KV length after the step), `c_sqsq`, `c_sqsk`, … and 0.5.23
//! `forward_id=`. Keys are read by name (their order differs between modes);
//! unknown keys are ignored.
//!
//! **vLLM V1** (`Worker.annotate_profile`, `vllm/v1/worker/gpu_worker.py`, 0.14 on):
//! `execute_context_<n>(<tokens>)_generation_<m>(<tokens>)`; TraceLens's patch
//! writes each token count as `<tokens>_<sum of squares>`; with
//! `detailed_trace_annotation` (0.26+, and TraceLens's patches of vLLM 0.13–0.25 and
//! of SGLang 0.5.9–0.5.12) `execute_<T>_context_<n>(sq<q>sk<k>sqsq<qq>sqsk<qk>)
//! _generation_<m>(sq…sk…sqsq…sqsk…)`, `T` = all tokens of the step.
//!
//! What a label holds (see docs/SCHEMA.md): `bsz` = requests in the step (both
//! kinds for `mixed`); `seq` = tokens each request ran in this step (⌈tokens /
//! requests⌉: 1 for plain decode, the mean prompt chunk for prefill), null where
//! the marker does not say (SGLang `MIXED` without detailed annotations); the
//! per-phase request and token counts and the KV total in [`StepTokens`].
//!
//! Invariants: every text that begins like a marker (`step[`, `execute_`) is a
//! label or a counted [`Refusal`], never silently nothing; counts are checked to
//! be possible (a request runs at least one token, tokens belong to requests, the
//! sums agree) before anything is stored.

use super::step::{Label, Refusal, StepTokens};

/// SGLang's marker prefix.
const SGLANG_PREFIX: &str = "step[";

/// An SGLang `step[…]` marker: `None` when `text` does not begin like one.
pub fn sglang_step(text: &str) -> Option<Result<Label, Refusal>> {
    let body = text.strip_prefix(SGLANG_PREFIX)?;
    let Some(fields) = body.strip_suffix(']') else {
        return Some(Err(Refusal::SglangForm));
    };
    let mut words = fields.split(' ');
    let mode = words.next().unwrap_or_default();
    let mode_ok = mode.starts_with(|c: char| c.is_ascii_uppercase())
        && mode
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !mode_ok {
        return Some(Err(Refusal::SglangForm));
    }
    let mut values: Vec<(&str, u64)> = Vec::new();
    for word in words {
        let parsed = word.split_once('=').and_then(|(key, value)| {
            let key_ok =
                !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            let value = decimal(value)?;
            (key_ok && !values.iter().any(|(k, _)| *k == key)).then_some((key, value))
        });
        match parsed {
            Some(pair) => values.push(pair),
            None => return Some(Err(Refusal::SglangForm)),
        }
    }
    let get = |key: &str| values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    Some(sglang_label(mode, &get))
}

/// The label of an SGLang step from its mode and fields.
fn sglang_label(mode: &str, get: &dyn Fn(&str) -> Option<u64>) -> Result<Label, Refusal> {
    // DRAFT_LOOP's `bs` is the padded graph size; `raw_bs` the requests.
    let requests = if mode == "DRAFT_LOOP" {
        get("raw_bs")
    } else {
        get("bs")
    }
    .ok_or(Refusal::SglangForm)?;
    if requests == 0 {
        return Err(Refusal::EngineEmpty);
    }
    let (c_sq, g_sq) = (get("c_sq"), get("g_sq"));
    let kv = match (get("c_sk"), get("g_sk")) {
        (None, None) => None,
        (c, g) => Some(c.unwrap_or(0) + g.unwrap_or(0)),
    };
    let none = Some((0, 0));
    let extended = get("toks").or(c_sq).map(|t| (requests, t));
    let (phase, tokens) = match mode {
        "EXTEND" => match extended {
            Some(prefill) => ("prefill", StepTokens::of(Some(prefill), none, kv)),
            None => return Err(Refusal::SglangForm),
        },
        // ForwardMode.DECODE runs one new token per request; `g_sq` says it when given.
        "DECODE" => (
            "decode",
            StepTokens::of(none, Some((requests, g_sq.unwrap_or(requests))), kv),
        ),
        "MIXED" => match (get("c"), get("g"), c_sq, g_sq) {
            (Some(c), Some(g), Some(ct), Some(gt)) => {
                ("mixed", StepTokens::of(Some((c, ct)), Some((g, gt)), kv))
            }
            (None, None, None, None) => ("mixed", StepTokens::of(None, None, kv)),
            _ => return Err(Refusal::EngineCounts),
        },
        "TARGET_VERIFY" | "VERIFY" => (
            "verify",
            StepTokens::of(none, g_sq.or(c_sq).map(|t| (requests, t)), kv),
        ),
        "IDLE" => return Err(Refusal::EngineEmpty),
        // Draft-model steps and modes added later: prefill-like counts when given.
        _ => {
            let phase = match mode {
                "DRAFT" | "DRAFT_EXTEND" | "DRAFT_EXTEND_V2" | "DRAFT_LOOP" => "draft",
                other => other,
            };
            let tokens = match extended {
                Some(prefill) => StepTokens::of(Some(prefill), none, kv),
                None => StepTokens::of(None, None, kv),
            };
            (phase, tokens)
        }
    };
    build(&phase.to_ascii_lowercase(), requests, tokens)
}

/// vLLM's marker prefix.
const VLLM_PREFIX: &str = "execute_";

/// One side (context or generation) of a vLLM marker. `None` counts are digits
/// beyond a u64.
struct VllmSide {
    reqs: Option<u64>,
    tokens: Option<u64>,
    /// Sum of squared per-request tokens (TraceLens's `_<n>`, detailed `sqsq`).
    squares: Option<Option<u64>>,
    /// Sum of KV lengths after the step (detailed `sk`).
    kv: Option<Option<u64>>,
}

/// A vLLM V1 `execute_…` marker: `None` when `text` does not begin like one
/// (`execute_` then `context_` and `_generation_` somewhere after; vLLM's older
/// `execute_new_<n>_cached_<m>` says nothing of phase and is not a label).
pub fn vllm_step(text: &str) -> Option<Result<Label, Refusal>> {
    let rest = text.strip_prefix(VLLM_PREFIX)?;
    if !(rest.contains("context_") && rest.contains("_generation_")) {
        return None;
    }
    Some(
        vllm_parts(rest)
            .ok_or(Refusal::VllmForm)
            .and_then(vllm_label),
    )
}

/// Splits the marker after `execute_`: the optional total, then both sides.
fn vllm_parts(rest: &str) -> Option<(Option<Option<u64>>, VllmSide, VllmSide)> {
    let (total, rest) = match rest.strip_prefix("context_") {
        Some(rest) => (None, rest),
        None => {
            let (total, rest) = count(rest)?;
            (Some(total), rest.strip_prefix("_context_")?)
        }
    };
    let (context, rest) = vllm_side(rest, total.is_some())?;
    let rest = rest.strip_prefix("_generation_")?;
    let (generation, rest) = vllm_side(rest, total.is_some())?;
    rest.is_empty().then_some((total, context, generation))
}

/// `<reqs>(<tokens>[_<squares>])`, or in the detailed form
/// `<reqs>(sq<tokens>sk<kv>sqsq<squares>sqsk<cross>)`.
fn vllm_side(text: &str, detailed: bool) -> Option<(VllmSide, &str)> {
    let (reqs, rest) = count(text)?;
    let rest = rest.strip_prefix('(')?;
    let (side, rest) = if detailed {
        let (tokens, rest) = count(rest.strip_prefix("sq")?)?;
        let (kv, rest) = count(rest.strip_prefix("sk")?)?;
        let (squares, rest) = count(rest.strip_prefix("sqsq")?)?;
        let (_cross, rest) = count(rest.strip_prefix("sqsk")?)?;
        let side = VllmSide {
            reqs,
            tokens,
            squares: Some(squares),
            kv: Some(kv),
        };
        (side, rest)
    } else {
        let (tokens, rest) = count(rest)?;
        let (squares, rest) = match rest.strip_prefix('_') {
            Some(rest) => {
                let (squares, rest) = count(rest)?;
                (Some(squares), rest)
            }
            None => (None, rest),
        };
        let side = VllmSide {
            reqs,
            tokens,
            squares,
            kv: None,
        };
        (side, rest)
    };
    Some((side, rest.strip_prefix(')')?))
}

/// The label of a parsed vLLM marker, after checking its sums.
fn vllm_label(
    (total, context, generation): (Option<Option<u64>>, VllmSide, VllmSide),
) -> Result<Label, Refusal> {
    let known = |side: &VllmSide| -> Option<(u64, u64)> { Some((side.reqs?, side.tokens?)) };
    let (Some(ctx), Some(generated)) = (known(&context), known(&generation)) else {
        return Err(Refusal::EngineCounts);
    };
    if !squares_possible(&context) || !squares_possible(&generation) {
        return Err(Refusal::EngineCounts);
    }
    if let Some(total) = total {
        if total != ctx.1.checked_add(generated.1) {
            return Err(Refusal::EngineCounts);
        }
    }
    let kv = match (context.kv, generation.kv) {
        (Some(Some(c)), Some(Some(g))) => Some(c.checked_add(g).ok_or(Refusal::EngineCounts)?),
        (None, None) => None,
        _ => return Err(Refusal::EngineCounts),
    };
    let requests = ctx
        .0
        .checked_add(generated.0)
        .ok_or(Refusal::EngineCounts)?;
    let phase = match (ctx.0, generated.0) {
        (0, 0) => return Err(Refusal::EngineEmpty),
        (0, _) => "decode",
        (_, 0) => "prefill",
        _ => "mixed",
    };
    build(
        phase,
        requests,
        StepTokens::of(Some(ctx), Some(generated), kv),
    )
}

/// A sum of squares `s` of `reqs` per-request token counts summing to `tokens`
/// lies in `tokens²/reqs ..= tokens²` (true when absent); a KV total is at least
/// the tokens.
fn squares_possible(side: &VllmSide) -> bool {
    if let (Some(Some(kv)), Some(tokens)) = (side.kv, side.tokens) {
        if kv < tokens {
            return false;
        }
    }
    let Some(squares) = side.squares else {
        return true;
    };
    let (Some(reqs), Some(tokens), Some(squares)) = (side.reqs, side.tokens, squares) else {
        return false;
    };
    let (reqs, tokens, squares) = (u128::from(reqs), u128::from(tokens), u128::from(squares));
    let square = tokens * tokens;
    match reqs {
        0 => tokens == 0 && squares == 0,
        _ => squares <= square && squares * reqs >= square,
    }
}

/// A leading count as Python's `str(int)` writes a non-negative one: ASCII digits,
/// no sign, no leading zero. `Some((None, rest))` for digits too many for a u64.
fn count(text: &str) -> Option<(Option<u64>, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = text.split_at(digits);
    if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    Some((number.parse().ok(), rest))
}

/// A label from a phase, the step's requests and its counts, after checking them.
pub(super) fn build(phase: &str, requests: u64, tokens: StepTokens) -> Result<Label, Refusal> {
    if !tokens.possible(requests) {
        return Err(Refusal::EngineCounts);
    }
    let shape = |v: u64| i32::try_from(v).ok().filter(|v| *v > 0);
    let seq = match tokens.total() {
        Some(total) => Some(shape(total.div_ceil(requests)).ok_or(Refusal::EngineCounts)?),
        None => None,
    };
    Ok(Label {
        phase: phase.to_string(),
        bsz: shape(requests).ok_or(Refusal::EngineCounts)?,
        seq,
        iter: None,
        tokens: Some(tokens),
    })
}

/// One count as Python's `str(int)` writes a non-negative one: ASCII digits, no
/// sign, no leading zero, within a u64.
pub(super) fn decimal(text: &str) -> Option<u64> {
    let ok = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    ok.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
#[path = "engine_steps_tests.rs"]
mod tests;
