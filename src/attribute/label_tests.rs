//! Tests of [`super`] (the label parser): the harness convention, the vLLM
//! `execute_context_*` form and its refusals.

use super::*;

#[test]
fn accepts_prefix_and_missing_iter() {
    assert_eq!(
        Label::parse("prefill|bsz=1|seq=128|iter=0"),
        Some(Label {
            phase: "prefill".into(),
            bsz: 1,
            seq: Some(128),
            iter: Some(0),
            tokens: None,
        })
    );
    let l = Label::parse("trace:decode|seq=64|bsz=8").unwrap();
    assert_eq!((l.bsz, l.seq, l.iter), (8, Some(64), None));
}

#[test]
fn rejects_near_misses() {
    for text in [
        "",
        "prefill",
        "prefill|bsz=1",
        "prefill|bsz=x|seq=1",
        "prefill|bsz=1|seq=2|foo=3",
        "prefill|bsz=1|bsz=2|seq=2",
        "aten::mm, op_id = 3",
        "|bsz=1|seq=2",
        // Found by the label fuzz target: parsed as phase `trace:e`, which wrote
        // back and parsed again became phase `e`.
        "trace:trace:e|bsz=2|seq=512",
        "trace:e:x|bsz=2|seq=512",
    ] {
        assert_eq!(Label::parse(text), None, "{text:?}");
    }
}

#[test]
fn impossible_shapes_are_refused_with_a_reason() {
    for (text, why) in [
        ("decode|bsz=-1|seq=64", Refusal::Shape),
        ("decode|bsz=0|seq=64", Refusal::Shape),
        ("decode|bsz=abc|seq=64", Refusal::Shape),
        ("decode|bsz=99999999999999999999|seq=64", Refusal::Shape),
        ("decode|bsz=2147483648|seq=64", Refusal::Shape),
        ("decode|bsz=1|seq=64|iter=-3", Refusal::Iter),
        ("decode|bsz=1|bsz=2|seq=2", Refusal::Fields),
        ("decode|bsz=1", Refusal::Fields),
        ("decode|bsz=1|seq=2|foo=3", Refusal::Fields),
    ] {
        assert_eq!(Label::check(text), Err(why), "{text:?}");
        assert_eq!(Label::parse(text), None, "{text:?}");
    }
    assert_eq!(Label::check("aten::mm"), Ok(None));
    assert_eq!(Label::check("layer0|x=1"), Ok(None));
    assert_eq!(shape_value(" 2147483647 "), Some(i32::MAX));
}

/// A vLLM label: phase, requests, seq (tokens per request).
fn vllm(phase: &str, bsz: i32, seq: i32) -> (String, i32, Option<i32>) {
    (phase.into(), bsz, Some(seq))
}

#[test]
fn vllm_pure_decode_and_prefill_steps_are_labels() {
    for (text, want) in [
        // The GB10 fixture's steps: 4 requests decoding one token each.
        ("execute_context_0(0)_generation_4(4)", vllm("decode", 4, 1)),
        ("execute_context_0(0)_generation_1(1)", vllm("decode", 1, 1)),
        // Speculative decoding: 1 + 2 draft tokens per request.
        (
            "execute_context_0(0)_generation_4(12)",
            vllm("decode", 4, 3),
        ),
        // Uneven acceptance: the mean, rounded up.
        (
            "execute_context_0(0)_generation_4(10)",
            vllm("decode", 4, 3),
        ),
        (
            "execute_context_1(888)_generation_0(0)",
            vllm("prefill", 1, 888),
        ),
        (
            // TraceLens's patched vLLM (the public gpt-oss B200 trace).
            "execute_context_1(888_788544)_generation_0(0)",
            vllm("prefill", 1, 888),
        ),
        (
            "execute_context_2(6_20)_generation_0(0_0)",
            vllm("prefill", 2, 3),
        ),
        (
            "execute_context_2(14721)_generation_0(0)",
            vllm("prefill", 2, 7361),
        ),
        (
            "execute_context_3(1000)_generation_0(0)",
            vllm("prefill", 3, 334),
        ),
        (
            "execute_context_1(2147483647)_generation_0(0)",
            vllm("prefill", 1, i32::MAX),
        ),
    ] {
        let l = Label::check(text).unwrap().unwrap();
        assert_eq!((l.phase.clone(), l.bsz, l.seq), want, "{text:?}");
        assert!(l.tokens.is_some(), "{text:?}");
        // Written back in the convention, it parses to the same shape.
        let again = format!("{}|bsz={}|seq={}", l.phase, l.bsz, l.seq.unwrap());
        let again = Label::parse(&again).unwrap();
        assert_eq!((again.phase, again.bsz, again.seq), want, "{text:?}");
    }
}

#[test]
fn vllm_mixed_steps_keep_both_counts() {
    let l = Label::parse("execute_context_2(6144)_generation_3(3)").unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("mixed", 5, Some(1230)));
    let t = l.tokens.unwrap();
    assert_eq!(
        (
            t.prefill_reqs,
            t.prefill_tokens,
            t.decode_reqs,
            t.decode_tokens,
            t.kv_tokens
        ),
        (Some(2), Some(6144), Some(3), Some(3), None)
    );
}

#[test]
fn vllm_empty_and_impossible_steps_are_refused() {
    for (text, why) in [
        ("execute_context_0(0)_generation_0(0)", Refusal::EngineEmpty),
        // Tokens without requests, requests without tokens, fewer tokens than
        // requests.
        (
            "execute_context_0(5)_generation_4(4)",
            Refusal::EngineCounts,
        ),
        (
            "execute_context_0(0)_generation_4(0)",
            Refusal::EngineCounts,
        ),
        (
            "execute_context_0(0)_generation_4(3)",
            Refusal::EngineCounts,
        ),
        (
            "execute_context_2(1)_generation_0(0)",
            Refusal::EngineCounts,
        ),
        // A sum of squares no split of the tokens can give (above t², below t²/n).
        (
            "execute_context_1(888_788545)_generation_0(0)",
            Refusal::EngineCounts,
        ),
        (
            "execute_context_2(6_17)_generation_0(0)",
            Refusal::EngineCounts,
        ),
        // bsz or seq beyond 2^31-1, counts beyond a u64.
        (
            "execute_context_0(0)_generation_2147483648(2147483648)",
            Refusal::EngineCounts,
        ),
        (
            "execute_context_1(2147483648)_generation_0(0)",
            Refusal::EngineCounts,
        ),
        (
            "execute_context_0(0)_generation_1(99999999999999999999999)",
            Refusal::EngineCounts,
        ),
    ] {
        assert_eq!(Label::check(text), Err(why), "{text:?}");
        assert_eq!(Label::parse(text), None, "{text:?}");
    }
    assert_eq!(
        Refusal::EngineEmpty.reason(),
        "engine step marker with no requests (SGLang IDLE, an empty vLLM step): no phase (step not attributed)"
    );
}

#[test]
fn vllm_near_misses_are_not_labels() {
    // Shaped like vLLM's annotation but not exactly it: refused, counted.
    for text in [
        "execute_context_0(0)_generation_4(4) ",
        " execute_context_0(0)_generation_4(4)",
        "trace:execute_context_0(0)_generation_4(4)",
        "execute_context_0(0)_generation_04(4)",
        "execute_context_00(0)_generation_4(4)",
        "execute_context_0(0)_generation_+4(4)",
        "execute_context_0(0)_generation_-1(4)",
        "execute_context_0(0)_generation_\u{664}(4)",
        "execute_context_0(0)_generation_4 (4)",
        "execute_context_0(0)_generation_4(4)x",
        "execute_context_0(0)_generation_4(4))",
        "execute_context_0(0)_generation_4(4",
        "execute_context_0()_generation_4(4)",
        "execute_context_0(0)__generation_4(4)",
        "execute_context_0(0)_generation_4(4)|bsz=4|seq=1",
        "execute_context_x_generation_|bsz=1|seq=2",
        // A total without the detailed sides.
        "execute_4_context_0(0)_generation_4(4)",
    ] {
        assert_eq!(Label::check(text), Err(Refusal::VllmForm), "{text:?}");
    }
    // Not vLLM's step annotation at all: no label, not counted.
    for text in [
        "execute_new_1_cached_0",
        "execute_context_0(0)",
        "Execute_context_0(0)_generation_4(4)",
        "execute_context_",
        "sample_tokens",
    ] {
        assert_eq!(Label::check(text), Ok(None), "{text:?}");
    }
}

#[test]
fn engine_markers_padded_or_prefixed_are_refused() {
    assert_eq!(Label::check(" step[DECODE bs=4]"), Err(Refusal::SglangForm));
    assert_eq!(
        Label::check("trace:step[DECODE bs=4]"),
        Err(Refusal::SglangForm)
    );
    assert_eq!(Label::check("step[DECODE bs=4] "), Err(Refusal::SglangForm));
    let l = Label::parse("execute_4_context_0(sq0sk0sqsq0sqsk0)_generation_4(sq4sk8sqsq4sqsk8)")
        .unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("decode", 4, Some(1)));
}

#[test]
fn a_phase_never_begins_like_an_engine_marker() {
    // Found by the label fuzz target: accepted as phase `step[x`, written back it
    // read as a malformed SGLang marker.
    assert_eq!(
        Label::check("trace: step[x|bsz=7|seq=3"),
        Err(Refusal::SglangForm)
    );
    assert_eq!(
        Label::check("execute_context_1(1)_generation_0(0)x|bsz=1|seq=1"),
        Err(Refusal::VllmForm)
    );
}
