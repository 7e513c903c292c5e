//! Composing the seed's YAML configs into SGLang server arguments.
//!
//! Files are read in order (base, deploy, backend, optional); a later file's key
//! overrides an earlier one's. Each key is checked: SGLang server arguments (a list
//! kept here, `snake_case`) become flags — `key: v` → `--key v`, `true` → bare
//! `--key`, `false`/`null` → omitted, a list → `--key a b`, a mapping → JSON —
//! and `model` becomes `--model-path`. Our own keys (`warmup`, `iters`,
//! `profile_phase`) and the seed's fork-only keys are read but never passed to
//! SGLang. Anything else is an error naming the file and line, with the closest
//! known key; arguments trace does not know yet go under `extra_args:` (a list of
//! raw flags) and pass through untouched.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::error::{Error, Result};

/// SGLang `ServerArgs` fields accepted in config files.
pub const SGLANG_KEYS: &[&str] = &[
    "model",
    "model_path",
    "tokenizer_path",
    "tokenizer_mode",
    "skip_tokenizer_init",
    "load_format",
    "trust_remote_code",
    "dtype",
    "kv_cache_dtype",
    "quantization",
    "context_length",
    "device",
    "served_model_name",
    "revision",
    "host",
    "port",
    "mem_fraction_static",
    "max_running_requests",
    "max_total_tokens",
    "chunked_prefill_size",
    "max_prefill_tokens",
    "schedule_policy",
    "schedule_conservativeness",
    "cpu_offload_gb",
    "page_size",
    "tp_size",
    "ep_size",
    "dp_size",
    "pp_size",
    "stream_interval",
    "random_seed",
    "log_level",
    "log_requests",
    "show_time_cost",
    "enable_metrics",
    "dist_init_addr",
    "nnodes",
    "node_rank",
    "json_model_override_args",
    "attention_backend",
    "prefill_attention_backend",
    "decode_attention_backend",
    "sampling_backend",
    "grammar_backend",
    "moe_runner_backend",
    "moe_a2a_backend",
    "deepep_mode",
    "enable_deepep_moe",
    "enable_ep_moe",
    "disable_radix_cache",
    "disable_cuda_graph",
    "disable_cuda_graph_padding",
    "cuda_graph_max_bs",
    "cuda_graph_bs",
    "disable_piecewise_cuda_graph",
    "enable_torch_compile",
    "torch_compile_max_bs",
    "disable_overlap_schedule",
    "disable_chunked_prefix_cache",
    "enable_dp_attention",
    "enable_dp_lm_head",
    "disable_custom_all_reduce",
    "enable_mscclpp",
    "enable_nccl_nvls",
    "enable_symm_mem",
    "enable_torch_symm_mem",
    "enable_two_batch_overlap",
    "moe_dense_tp_size",
    "enable_mixed_chunk",
    "enable_flashinfer_allreduce_fusion",
    "enable_flashinfer_cutlass_moe",
    "enable_flashinfer_trtllm_moe",
    "speculative_algorithm",
    "speculative_num_steps",
    "speculative_eagle_topk",
    "speculative_num_draft_tokens",
    "speculative_draft_model_path",
    "enable_layerwise_nvtx_marker",
    "triton_attention_num_kv_splits",
    "num_continuous_decode_steps",
    "enable_nan_detection",
    "enable_p2p_check",
    "watchdog_timeout",
    "base_gpu_id",
    "gpu_id_step",
    "ep_num_redundant_experts",
    "init_expert_location",
    "enable_eplb",
    "enable_memory_saver",
    "allow_auto_truncate",
    "enable_hierarchical_cache",
    "hicache_ratio",
    "disable_outlines_disk_cache",
    "enable_profile_cuda_graph",
    "enable_cache_report",
    "api_key",
];

/// Keys trace reads itself.
pub const OUR_KEYS: &[&str] = &["warmup", "iters", "profile_phase", "extra_args"];

/// Keys of the seed's fork (ltp-sglang) that upstream SGLang lacks: accepted, not passed.
pub const SEED_ONLY_KEYS: &[&str] = &[
    "max_tokens_generated",
    "enable_benchmark",
    "enforce_batching",
];

/// One composed key with the file and line that set it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub value: Value,
    pub file: PathBuf,
    pub line: Option<usize>,
}

/// The composed configuration, in first-appearance order.
#[derive(Debug, Clone, Default)]
pub struct Composed {
    pub entries: Vec<Entry>,
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn closest(key: &str) -> Option<&'static str> {
    SGLANG_KEYS
        .iter()
        .chain(OUR_KEYS)
        .chain(SEED_ONLY_KEYS)
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

impl Composed {
    /// Reads and merges `files` in order.
    pub fn load(files: &[PathBuf]) -> Result<Composed> {
        let mut composed = Composed::default();
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
            composed.merge_text(&text, file)?;
        }
        Ok(composed)
    }

    /// Merges one file's text (public for tests).
    pub fn merge_text(&mut self, text: &str, file: &Path) -> Result<()> {
        let error = |line, reason: String| Error::Config {
            path: file.to_path_buf(),
            line,
            reason,
        };
        let value: Value = serde_yaml::from_str(text)
            .map_err(|e| error(e.location().map(|l| l.line()), e.to_string()))?;
        let mapping = match value {
            Value::Mapping(m) => m,
            Value::Null => return Ok(()),
            _ => {
                return Err(error(
                    None,
                    "expected a mapping of `key: value` lines".into(),
                ))
            }
        };
        for (key, value) in mapping {
            let key = key
                .as_str()
                .ok_or_else(|| error(None, format!("key {key:?} is not a string")))?
                .to_string();
            let line = line_of(text, &key);
            let known = SGLANG_KEYS.contains(&key.as_str())
                || OUR_KEYS.contains(&key.as_str())
                || SEED_ONLY_KEYS.contains(&key.as_str());
            if !known {
                let hint = match closest(&key) {
                    Some(k) => format!("; did you mean {k:?}?"),
                    None => "; if it is an SGLang argument trace does not know, put the raw flag under `extra_args:`".into(),
                };
                return Err(error(line, format!("unknown key {key:?}{hint}")));
            }
            self.set(&key, value, file, line);
        }
        Ok(())
    }

    /// Sets `key` (overriding an earlier value, keeping its position).
    pub fn set(&mut self, key: &str, value: Value, file: &Path, line: Option<usize>) {
        let entry = Entry {
            key: key.to_string(),
            value,
            file: file.to_path_buf(),
            line,
        };
        match self.entries.iter_mut().find(|e| e.key == key) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// The value of `key`, if set and not null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
            .filter(|v| !v.is_null())
    }

    /// An integer setting, with its origin in errors.
    pub fn get_u32(&self, key: &str, default: u32) -> Result<u32> {
        let Some(entry) = self
            .entries
            .iter()
            .find(|e| e.key == key && !e.value.is_null())
        else {
            return Ok(default);
        };
        entry
            .value
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| Error::Config {
                path: entry.file.clone(),
                line: entry.line,
                reason: format!("{key} must be a non-negative integer"),
            })
    }

    /// The SGLang command-line flags, in composition order.
    pub fn sglang_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for entry in &self.entries {
            let key = entry.key.as_str();
            if OUR_KEYS.contains(&key) || SEED_ONLY_KEYS.contains(&key) {
                continue;
            }
            let flag = if key == "model" {
                "--model-path".to_string()
            } else {
                format!("--{}", key.replace('_', "-"))
            };
            match &entry.value {
                Value::Null | Value::Bool(false) => {}
                Value::Bool(true) => flags.push(flag),
                Value::Sequence(items) => {
                    flags.push(flag);
                    flags.extend(items.iter().map(scalar));
                }
                Value::Mapping(_) => {
                    flags.push(flag);
                    flags.push(serde_json::to_string(&entry.value).unwrap_or_default());
                }
                other => {
                    flags.push(flag);
                    flags.push(scalar(other));
                }
            }
        }
        if let Some(Value::Sequence(extra)) = self.get("extra_args") {
            flags.extend(extra.iter().map(scalar));
        }
        flags
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compose(files: &[(&str, &str)]) -> Result<Composed> {
        let mut c = Composed::default();
        for (name, text) in files {
            c.merge_text(text, Path::new(name))?;
        }
        Ok(c)
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
            c.sglang_flags(),
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
            c.sglang_flags(),
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
}
