//! Tests of config composition: merging, overrides, interpolation and errors.

use super::*;

fn compose(files: &[(&str, &str)]) -> Result<Composed> {
    let mut c = Composed::default();
    for (name, text) in files {
        c.merge_text(text, Path::new(name))?;
    }
    Ok(c)
}

#[test]
fn a_duplicate_key_is_reported_at_its_second_line() {
    let err = compose(&[(
        "base.yaml",
        "load_format: dummy\nmem_fraction_static: 0.5\nload_format: auto\n",
    )])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("base.yaml:3: duplicate key \"load_format\" (first set on line 1)"),
        "{err}"
    );
}

#[test]
fn seed_base_keys_map_to_flags() {
    let seed_base = "model: ./model_conf/qwen_sigma\nload_format: dummy\ntrust_remote_code: true\nlog_level: debug\n\
        disable_radix_cache: true\ndisable_overlap_schedule: true\ndisable_chunked_prefix_cache: true\n\
        enable_torch_compile: false\nmem_fraction_static: 0.5\nmax_running_requests: 16384\n\
        max_prefill_tokens: 1048576\nchunked_prefill_size: -1\nmax_tokens_generated: 2\nenable_benchmark: true\n\
        enforce_batching: false\nprofile_phase: null\n";
    let c = compose(&[("base.yaml", seed_base)]).unwrap();
    assert_eq!(
        c.sglang_flags().unwrap(),
        [
            "--model-path",
            "./model_conf/qwen_sigma",
            "--load-format",
            "dummy",
            "--trust-remote-code",
            "--log-level",
            "debug",
            "--disable-radix-cache",
            "--disable-overlap-schedule",
            "--disable-chunked-prefix-cache",
            "--mem-fraction-static",
            "0.5",
            "--max-running-requests",
            "16384",
            "--max-prefill-tokens",
            "1048576",
            "--chunked-prefill-size",
            "-1",
        ]
    );
}

#[test]
fn later_files_override_and_lists_expand() {
    let c = compose(&[
        ("base.yaml", "tp_size: 1\nattention_backend: triton\nwarmup: 3\n"),
        ("deploy.yaml", "tp_size: 8\nep_size: 8\ncuda_graph_bs: [1, 2, 4]\n"),
        ("backend.yaml", "attention_backend: fa3\njson_model_override_args: {num_hidden_layers: 2}\nextra_args: ['--foo-bar', '3']\n"),
    ])
    .unwrap();
    assert_eq!(
        c.sglang_flags().unwrap(),
        [
            "--tp-size",
            "8",
            "--attention-backend",
            "fa3",
            "--ep-size",
            "8",
            "--cuda-graph-bs",
            "1",
            "2",
            "4",
            "--json-model-override-args",
            "{\"num_hidden_layers\":2}",
            "--foo-bar",
            "3",
        ]
    );
    assert_eq!(c.get_u32("warmup", 1).unwrap(), 3);
    assert_eq!(c.get_u32("iters", 5).unwrap(), 5);
    let tp = c.entries.iter().find(|e| e.key == "tp_size").unwrap();
    assert_eq!(
        (tp.file.as_path(), tp.line),
        (Path::new("deploy.yaml"), Some(1))
    );
}

#[test]
fn unknown_keys_name_file_line_and_suggestion() {
    let err = compose(&[(
        "conf/deploy/tp8.yaml",
        "tp_size: 8\nexpert_paralel: 8\nep_szie: 8\n",
    )])
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("conf/deploy/tp8.yaml:2: unknown key \"expert_paralel\""),
        "{err}"
    );
    let err = compose(&[("o.yaml", "\nep_szie: 8\n")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("o.yaml:2") && err.contains("did you mean \"ep_size\""),
        "{err}"
    );
    let err = compose(&[("b.yaml", "warmup: -1\n")])
        .unwrap()
        .get_u32("warmup", 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("b.yaml:1"), "{err}");
    assert!(compose(&[("x.yaml", "- a\n- b\n")])
        .unwrap_err()
        .to_string()
        .contains("mapping"));
}

#[test]
fn keys_are_checked_against_the_release_that_runs() {
    let api = api().unwrap();
    let text =
        "tp_size: 8\ncuda_graph_max_bs: 64\nenable_ep_moe: true\nenable_dp_attention: true\n";
    let mut old = compose(&[("d.yaml", text)]).unwrap();
    let notes = old.check_version(&api.versions["0.4.10.post2"]).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert!(old
        .sglang_flags()
        .unwrap()
        .join(" ")
        .contains("--cuda-graph-max-bs 64 --enable-ep-moe"));

    let new = &api.versions["0.5.23"];
    let err = compose(&[("d.yaml", text)])
        .unwrap()
        .check_version(new)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("d.yaml:3: \"enable_ep_moe\" is not a server argument of SGLang 0.5.23"),
        "{err}"
    );
    let mut c = compose(&[(
        "d.yaml",
        "cuda_graph_max_bs: 64\nenable_dp_attention: true\n",
    )])
    .unwrap();
    let notes = c.check_version(new).unwrap();
    assert_eq!(
        notes,
        [
            "cuda_graph_max_bs (d.yaml:1) is cuda_graph_max_bs_decode in SGLang 0.5.23: translated",
            "enable_dp_attention (d.yaml:2) is deprecated in SGLang 0.5.23",
        ]
    );
    assert_eq!(
        c.sglang_flags().unwrap(),
        ["--cuda-graph-max-bs-decode", "64", "--enable-dp-attention"]
    );
    let err = compose(&[("o.yaml", "enable_layerwise_nvtx_markr: true\n")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("did you mean \"enable_layerwise_nvtx_marker\""),
        "{err}"
    );
    let err = compose(&[("o.yaml", "enable_layerwise_nvtx_marker: true\n")])
        .unwrap()
        .check_version(&api.versions["0.4.10.post2"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a server argument of SGLang 0.4.10.post2"),
        "{err}"
    );
}

#[test]
fn values_of_the_wrong_shape_are_errors_at_their_line() {
    for (text, says) in [
        ("extra_args: '--foo 3'\n", "extra_args must be a list"),
        ("extra_args: [['--foo'], 3]\n", "extra_args must be a list"),
        ("tp_size: 0\n", "tp_size must be an integer >= 1 (got 0)"),
        (
            "warmup: 1\ndp_size: two\n",
            "dp_size must be an integer >= 1 (got two)",
        ),
        ("cuda_graph_bs: [1, [2, 4]]\n", "one argument per item"),
    ] {
        let err = compose(&[("c.yaml", text)]).unwrap_err().to_string();
        assert!(err.contains(says), "{text:?}: {err}");
        assert!(err.contains("c.yaml"), "{err}");
    }
    let ok = compose(&[("c.yaml", "tp_size: 2\nextra_args: ['--foo-bar', 3, true]\n")]).unwrap();
    let flags = ok.sglang_flags().unwrap();
    assert!(
        flags.ends_with(&["--foo-bar".into(), "3".into(), "true".into()]),
        "{flags:?}"
    );
}
