//! Tests of [`super::module_index`]: innermost module with the outermost verdict,
//! graph nodes through clones and across processes, SGLang's layer-wise markers.

use super::module_index::*;
use super::modules::ModuleRules;

fn range(thread: i64, start: i64, end: i64, text: &str) -> ModuleRange {
    ModuleRange {
        thread,
        start,
        end,
        text: text.into(),
    }
}

fn rules() -> ModuleRules {
    ModuleRules::builtin().unwrap()
}

#[test]
fn innermost_module_with_outermost_verdict() {
    let modules = Modules::new(
        vec![
            range(1, 0, 1000, "module::Qwen3MoeForCausalLM"),
            range(1, 10, 500, "module:model.layers.3:Qwen3MoeDecoderLayer"),
            range(
                1,
                20,
                100,
                "module:model.layers.3.self_attn:Qwen3MoeAttention",
            ),
            range(
                1,
                30,
                40,
                "module:model.layers.3.self_attn.q_norm:Qwen3MoeRMSNorm",
            ),
            range(
                1,
                200,
                400,
                "module:model.layers.3.mlp:Qwen3MoeSparseMoeBlock",
            ),
            range(1, 210, 220, "module:model.layers.3.mlp.gate:Linear"),
            range(1, 600, 700, "module:lm_head:Linear"),
            range(2, 0, 1000, "not a module"),
        ],
        &rules(),
        None,
    );
    assert_eq!(modules.len(), 7);
    let at = |thread, t| {
        modules
            .at(thread, t)
            .and_then(|id| modules.info(id))
            .map(|m| (m.qualified.as_str(), m.layer, m.verdict.map(|v| v.category)))
    };
    assert_eq!(
        at(1, 35),
        Some((
            "model.layers.3.self_attn.q_norm",
            Some(3),
            Some("attention")
        ))
    );
    assert_eq!(
        at(1, 215),
        Some(("model.layers.3.mlp.gate", Some(3), Some("moe")))
    );
    assert_eq!(at(1, 150), Some(("model.layers.3", Some(3), None)));
    assert_eq!(at(1, 650), Some(("lm_head", None, Some("gemm"))));
    assert_eq!(at(1, 800), Some(("", None, None)));
    assert_eq!(at(2, 50), None);
    assert_eq!(at(1, 2000), None);
}

#[test]
fn graph_nodes_resolve_through_clones_to_capture_time() {
    let ranges = vec![
        range(
            7,
            100,
            200,
            "module:model.layers.0.self_attn:LlamaAttention",
        ),
        range(
            7,
            300,
            400,
            "module:model.layers.0.mlp:MixtralSparseMoeBlock",
        ),
    ];
    let event = |node, original, thread, start| GraphNodeEvent {
        node,
        original,
        thread,
        start,
    };
    let events = vec![
        // Captured nodes (no original), as nsys records stream capture.
        event(10, None, Some(7), 150),
        event(11, None, Some(7), 350),
        event(12, None, Some(7), 250),
        event(13, None, None, 150),
        // Instantiation: exec-graph nodes cloned from the captured ones; the
        // clone also has a plain creation row later, which must not win.
        event(20, None, Some(7), 999),
        event(20, Some(10), Some(7), 1000),
        event(21, Some(11), Some(7), 1001),
        event(22, Some(12), Some(7), 1002),
        event(23, Some(99), Some(7), 1003),
        // A clone of a clone.
        event(30, Some(21), Some(7), 1100),
        // A cycle must end.
        event(40, Some(41), Some(7), 1200),
        event(41, Some(40), Some(7), 1201),
    ];
    let modules = Modules::new(ranges, &rules(), Some(events));
    let class = |node| {
        modules
            .for_graph_node(7, node)
            .map(|id| modules.info(id).map(|m| m.class.clone()))
    };
    assert_eq!(class(20), Ok(Some("LlamaAttention".into())));
    assert_eq!(class(21), Ok(Some("MixtralSparseMoeBlock".into())));
    assert_eq!(class(30), Ok(Some("MixtralSparseMoeBlock".into())));
    assert_eq!(class(22), Err(GraphMiss::NoModuleAtCapture));
    assert_eq!(class(13), Err(GraphMiss::UnknownNode), "no creating thread");
    assert_eq!(class(23), Err(GraphMiss::UnknownNode));
    assert_eq!(class(40), Err(GraphMiss::UnknownNode));
    assert_eq!(class(777), Err(GraphMiss::UnknownNode));

    // Node ids are per process: another process reuses 10 for its own node.
    let other = (1 << 24) | 5;
    let modules = Modules::new(
        vec![
            range(
                7,
                100,
                200,
                "module:model.layers.0.self_attn:LlamaAttention",
            ),
            range(other, 100, 200, "module:model.layers.0.mlp:LlamaMLP"),
        ],
        &rules(),
        Some(vec![
            event(10, None, Some(7), 150),
            event(10, None, Some(other), 150),
        ]),
    );
    let class = |launcher, node| {
        modules
            .for_graph_node(launcher, node)
            .map(|id| modules.info(id).map(|m| m.class.clone()))
    };
    assert_eq!(class(7, 10), Ok(Some("LlamaAttention".into())));
    assert_eq!(class(other, 10), Ok(Some("LlamaMLP".into())));
    assert_eq!(class((2 << 24) | 5, 10), Err(GraphMiss::UnknownNode));

    let without_table = Modules::new(Vec::new(), &rules(), None);
    assert_eq!(
        without_table.for_graph_node(7, 20),
        Err(GraphMiss::NoNodeEvents)
    );
}

#[test]
fn sglang_layerwise_markers_match_by_qualified_name() {
    let marker = |q: &str| format!("{{'Module': 'Qwen/Qwen3-30B-A3B.{q}', 'Inputs': [[4, 2048]]}}");
    let modules = Modules::new(
        vec![
            range(1, 0, 1000, &marker("model.layers.5")),
            range(1, 10, 100, &marker("model.layers.5.self_attn")),
            range(1, 20, 30, &marker("model.layers.5.self_attn.qkv_proj")),
            range(1, 200, 600, &marker("model.layers.5.mlp")),
            range(1, 210, 220, &marker("model.layers.5.mlp.gate")),
            range(1, 300, 500, &marker("model.layers.5.mlp.experts")),
            range(
                1,
                700,
                710,
                &marker("model.layers.5.post_attention_layernorm"),
            ),
        ],
        &rules(),
        None,
    );
    let at = |t| {
        let m = modules.info(modules.at(1, t).unwrap()).unwrap();
        (
            m.qualified.clone(),
            m.class.clone(),
            m.layer,
            m.verdict.map(|v| v.category),
        )
    };
    assert_eq!(
        at(25),
        (
            "model.layers.5.self_attn.qkv_proj".into(),
            String::new(),
            Some(5),
            Some("attention")
        )
    );
    assert_eq!(at(215).3, Some("moe"));
    assert_eq!(at(400).3, Some("moe"));
    assert_eq!(
        at(250).3,
        Some("moe"),
        "the MoE block has no class, but it holds `experts`"
    );
    assert_eq!(at(705).3, Some("norm"));
    // A dense layer's `mlp` (no `experts` below it) is a dense MLP: gemm, refined by name.
    let dense = Modules::new(
        vec![
            range(1, 0, 100, &marker("model.layers.0.mlp")),
            range(1, 10, 20, &marker("model.layers.0.mlp.gate_up_proj")),
        ],
        &rules(),
        None,
    );
    let verdict = dense.info(dense.at(1, 15).unwrap()).unwrap().verdict;
    assert_eq!(
        verdict.map(|v| (v.category, v.refine)),
        Some(("gemm", true))
    );
}
