//! Tests of [`super`]: SGLang's and vLLM's step markers and their refusals.
use super::*;

#[test]
fn vllm_detailed_and_mixed_forms() {
    let l = vllm_step(
        "execute_32_context_0(sq0sk0sqsq0sqsk0)_generation_32(sq32sk32785sqsq32sqsk32785)",
    )
    .unwrap()
    .unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("decode", 32, Some(1)));
    assert_eq!(l.tokens.unwrap().kv_tokens, Some(32785));
    let l = vllm_step(
        "execute_8192_context_9(sq8155sk8430sqsq7475785sqsk7671310)_generation_37(sq37sk34489sqsq37sqsk34489)",
    )
    .unwrap()
    .unwrap();
    let t = l.tokens.unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("mixed", 46, Some(179)));
    assert_eq!(
        (
            t.prefill_reqs,
            t.prefill_tokens,
            t.decode_reqs,
            t.decode_tokens,
            t.kv_tokens
        ),
        (Some(9), Some(8155), Some(37), Some(37), Some(42919))
    );
    for (text, why) in [
        // The total disagrees with the sides.
        (
            "execute_33_context_0(sq0sk0sqsq0sqsk0)_generation_32(sq32sk32785sqsq32sqsk32785)",
            Refusal::EngineCounts,
        ),
        // KV below the tokens.
        (
            "execute_32_context_0(sq0sk0sqsq0sqsk0)_generation_32(sq32sk31sqsq32sqsk31)",
            Refusal::EngineCounts,
        ),
        // Detailed total without detailed sides, and the reverse.
        ("execute_4_context_0(0)_generation_4(4)", Refusal::VllmForm),
        (
            "execute_context_0(sq0sk0sqsq0sqsk0)_generation_4(sq4sk4sqsq4sqsk4)",
            Refusal::VllmForm,
        ),
        (
            "execute_0_context_0(sq0sk0sqsq0sqsk0)_generation_0(sq0sk0sqsq0sqsk0)",
            Refusal::EngineEmpty,
        ),
    ] {
        assert_eq!(vllm_step(text), Some(Err(why)), "{text:?}");
    }
    assert!(vllm_step("execute_new_3_cached_5").is_none());
}

fn sglang(text: &str) -> Result<Label, Refusal> {
    sglang_step(text).expect("a marker")
}

#[test]
fn sglang_extend_decode_and_mixed() {
    let l = sglang("step[EXTEND bs=15 toks=15360]").unwrap();
    assert_eq!(
        (l.phase.as_str(), l.bsz, l.seq),
        ("prefill", 15, Some(1024))
    );
    let t = l.tokens.unwrap();
    assert_eq!(
        (t.prefill_reqs, t.prefill_tokens, t.decode_reqs),
        (Some(15), Some(15360), Some(0))
    );
    let l = sglang("step[DECODE bs=32]").unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("decode", 32, Some(1)));
    assert_eq!(l.tokens.unwrap().decode_tokens, Some(32));
    let l = sglang("step[MIXED bs=66]").unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("mixed", 66, None));
    let l = sglang(
        "step[MIXED bs=66 c=2 g=64 c_sq=2048 c_sk=2048 c_sqsq=2097152 c_sqsk=2097152 g_sq=64 g_sk=65600 g_sqsq=64 g_sqsk=65600]",
    )
    .unwrap();
    let t = l.tokens.unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("mixed", 66, Some(32)));
    assert_eq!(
        (
            t.prefill_reqs,
            t.prefill_tokens,
            t.decode_reqs,
            t.decode_tokens,
            t.kv_tokens
        ),
        (Some(2), Some(2048), Some(64), Some(64), Some(67648))
    );
    let l = sglang("step[DECODE bs=32 g_sq=32 g_sqsq=32 g_sqsk=32785 g_sk=32785 forward_id=1234]")
        .unwrap();
    assert_eq!((l.seq, l.tokens.unwrap().kv_tokens), (Some(1), Some(32785)));
    let l = sglang("step[DRAFT_LOOP raw_bs=5 bs=8 topk=1]").unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("draft", 5, None));
    let l = sglang("step[VERIFY bs=8]").unwrap();
    assert_eq!((l.phase.as_str(), l.bsz, l.seq), ("verify", 8, None));
    let l = sglang("step[DLLM_EXTEND bs=3]").unwrap();
    assert_eq!(l.phase, "dllm_extend");
}

#[test]
fn sglang_near_misses_are_counted() {
    assert_eq!(sglang_step("stepper"), None);
    for (text, why) in [
        ("step[IDLE bs=0]", Refusal::EngineEmpty),
        ("step[DECODE bs=0]", Refusal::EngineEmpty),
        ("step[DECODE bs=32", Refusal::SglangForm),
        ("step[decode bs=32]", Refusal::SglangForm),
        ("step[DECODE bs=-1]", Refusal::SglangForm),
        ("step[DECODE bs=032]", Refusal::SglangForm),
        ("step[DECODE bs=1 bs=2]", Refusal::SglangForm),
        ("step[DECODE  bs=1]", Refusal::SglangForm),
        ("step[DECODE]", Refusal::SglangForm),
        ("step[EXTEND bs=2]", Refusal::SglangForm),
        ("step[EXTEND bs=4 toks=3]", Refusal::EngineCounts),
        (
            "step[MIXED bs=66 c=2 g=63 c_sq=2048 g_sq=63]",
            Refusal::EngineCounts,
        ),
        ("step[MIXED bs=66 c=2]", Refusal::EngineCounts),
        ("step[DECODE bs=99999999999]", Refusal::EngineCounts),
    ] {
        assert_eq!(sglang(text), Err(why), "{text:?}");
    }
}
