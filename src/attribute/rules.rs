//! Kernel categories: ordered first-match regex rules loaded from `conf/kernels.yaml`.
//!
//! A rule matches a kernel when its pattern matches the base (short) name or the
//! demangled name. The first matching rule wins; a kernel no rule matches is
//! `other`. Categories must come from [`crate::vocab::CATEGORIES`] so that queries can rely on
//! them, and an unknown key or category is an error naming the file and line.
//! The module-class rules (`conf/modules.yaml`, [`ModuleRules`]) travel with the
//! name rules: [`Rules::load`] reads `modules.yaml` beside the given file when it
//! exists, else the built-in copy. The rules hash (FNV-1a 64 of the name rules'
//! bytes, then of the module rules' bytes) is stored per run so results can be
//! traced back to the rules that made them.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use super::modules::{ModuleRules, DEFAULT_MODULES_YAML};
use crate::error::{Error, Result};
use crate::fast_hash::FastMap;
use crate::vocab::{fnv1a_hex, CATEGORIES};

/// The rules shipped in `conf/kernels.yaml`, compiled into the binary as the default.
pub const DEFAULT_RULES_YAML: &str = include_str!("../../conf/kernels.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RuleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    category: String,
    pattern: String,
}

/// Compiled category rules plus their provenance.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<(&'static str, Regex)>,
    /// Module-class rules, applied before the name rules (see [`super::modules::decide`]).
    pub modules: ModuleRules,
    /// Where the rules came from (`<built-in>` for the default).
    pub source: PathBuf,
    /// FNV-1a 64 of the name rules then the module rules, as 16 hex digits.
    pub hash: String,
}

impl Rules {
    /// Loads and compiles a rules file, with `modules.yaml` beside it if present
    /// (else the built-in module rules).
    pub fn load(path: &Path) -> Result<Rules> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let modules_path = path.with_file_name("modules.yaml");
        let (modules_text, modules) = if modules_path.is_file() {
            let text =
                std::fs::read_to_string(&modules_path).map_err(|e| Error::io(&modules_path, e))?;
            let rules = ModuleRules::parse(&text, &modules_path)?;
            (text, rules)
        } else {
            (DEFAULT_MODULES_YAML.to_string(), ModuleRules::builtin()?)
        };
        Rules::parse_with(&text, path, modules, &modules_text)
    }

    /// The rules compiled into the binary (same text as `conf/kernels.yaml` and
    /// `conf/modules.yaml`).
    pub fn builtin() -> Result<Rules> {
        Rules::parse(
            DEFAULT_RULES_YAML,
            Path::new("<built-in conf/kernels.yaml>"),
        )
    }

    /// Parses name rules from YAML text, with the built-in module rules; `origin`
    /// names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Rules> {
        Rules::parse_with(text, origin, ModuleRules::builtin()?, DEFAULT_MODULES_YAML)
    }

    fn parse_with(
        text: &str,
        origin: &Path,
        modules: ModuleRules,
        modules_text: &str,
    ) -> Result<Rules> {
        let config_error = |line: Option<usize>, reason: String| Error::Config {
            path: origin.to_path_buf(),
            line,
            reason,
        };
        let file: RulesFile = serde_yaml_ng::from_str(text)
            .map_err(|e| config_error(e.location().map(|l| l.line()), e.to_string()))?;
        let mut rules = Vec::with_capacity(file.rules.len());
        for (index, entry) in file.rules.into_iter().enumerate() {
            let line = line_of_rule(text, index);
            let category = CATEGORIES
                .iter()
                .find(|c| **c == entry.category)
                .ok_or_else(|| {
                    config_error(
                        line,
                        format!(
                            "unknown category {:?}; use one of: {}",
                            entry.category,
                            CATEGORIES.join(", ")
                        ),
                    )
                })?;
            let regex = Regex::new(&entry.pattern)
                .map_err(|e| config_error(line, format!("invalid pattern for {category}: {e}")))?;
            rules.push((*category, regex));
        }
        let mut hashed = text.as_bytes().to_vec();
        hashed.extend_from_slice(b"\n# conf/modules.yaml\n");
        hashed.extend_from_slice(modules_text.as_bytes());
        Ok(Rules {
            rules,
            modules,
            source: origin.to_path_buf(),
            hash: fnv1a_hex(&hashed),
        })
    }

    /// Category of a kernel given its base name and demangled name.
    pub fn classify(&self, short_name: &str, demangled: &str) -> &'static str {
        self.rules
            .iter()
            .find(|(_, re)| re.is_match(short_name) || re.is_match(demangled))
            .map_or("other", |(category, _)| category)
    }
}

/// Memoises [`Rules::classify`] per (short, demangled) string-id pair.
#[derive(Debug, Default)]
pub struct CategoryCache {
    by_ids: FastMap<(i64, i64), &'static str>,
}

impl CategoryCache {
    /// Category for the pair of string ids, computing it with `names` on a miss.
    pub fn get(
        &mut self,
        rules: &Rules,
        ids: (i64, i64),
        names: impl FnOnce() -> Result<(String, String)>,
    ) -> Result<&'static str> {
        if let Some(category) = self.by_ids.get(&ids) {
            return Ok(category);
        }
        let (short, demangled) = names()?;
        let category = rules.classify(&short, &demangled);
        self.by_ids.insert(ids, category);
        Ok(category)
    }
}

/// 1-based line of the `index`-th `- ` list item under `rules:` (best effort).
fn line_of_rule(text: &str, index: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("- "))
        .nth(index)
        .map(|(n, _)| n + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Rules {
        Rules::builtin().unwrap()
    }

    #[test]
    fn builtin_rules_cover_the_taxonomy() {
        let r = builtin();
        let cases = [
            ("ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "communication"),
            ("cross_device_reduce_1stage", "communication"),
            ("allreduce_fusion_kernel_oneshot_lamport", "communication"),
            ("dispatch", "communication"), // deep_ep via demangled, below
            ("FlashAttnFwdSm90", "attention"),
            ("BatchPrefillWithPagedKVCacheKernel", "attention"),
            ("flash_fwd_splitkv_mla_kernel", "attention"),
            ("_fwd_kernel", "attention"),
            ("_fwd_kernel_stage1", "attention"),
            (
                "cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16",
                "attention",
            ),
            ("fused_moe_kernel", "moe"),
            ("_fwd_kernel_ep_scatter_1", "moe"),
            ("topkGatingSoftmax", "moe"),
            ("moe_align_block_size_kernel", "moe"),
            ("nvjet_sm90_tst_256x8_64x6_2x1_v_bz_TNT", "gemm"),
            ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "gemm"),
            ("RMSNormKernel", "norm"),
            ("vectorized_layer_norm_kernel", "norm"),
            ("BatchQKApplyRotaryPosIdsCosSinCacheKernel", "rotary"),
            ("act_and_mul_kernel", "activation"),
            ("per_token_group_quant_8bit_kernel", "quantization"),
            ("softmax_warp_forward", "sampling"),
            ("reshape_and_cache_flash_kernel", "kv_cache"),
            ("[CUDA memcpy Host-to-Device]", "memory"),
            ("CatArrayBatchedCopy", "memory"),
            ("triton_poi_fused_add_0", "compiled"),
            ("vectorized_elementwise_kernel", "elementwise"),
            ("some_custom_kernel", "other"),
        ];
        for (name, want) in cases {
            let demangled = if name == "dispatch" {
                "void deep_ep::intranode::dispatch<8>(int)"
            } else {
                name
            };
            assert_eq!(r.classify(name, demangled), want, "{name}");
        }
    }

    #[test]
    fn demangled_name_decides_generic_torch_kernels() {
        let r = builtin();
        let copy = "void at::native::elementwise_kernel<128, 4, at::native::direct_copy_kernel_cuda(at::TensorIteratorBase &)>(int, T3)";
        assert_eq!(r.classify("elementwise_kernel", copy), "memory");
        let silu = "void at::native::vectorized_elementwise_kernel<8, at::native::<unnamed>::silu_kernel(at::TensorIteratorBase &)>(int)";
        assert_eq!(
            r.classify("vectorized_elementwise_kernel", silu),
            "activation"
        );
        let argmax = "void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::ArgMaxOps<float>>>(T3)";
        assert_eq!(r.classify("reduce_kernel", argmax), "sampling");
    }

    #[test]
    fn unknown_category_names_file_and_line() {
        let text =
            "rules:\n  - {category: gemm, pattern: 'nvjet'}\n  - {category: gemmm, pattern: 'x'}\n";
        let err = Rules::parse(text, Path::new("k.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("k.yaml:3: unknown category \"gemmm\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_and_bad_regex_are_errors() {
        let err = Rules::parse(
            "rules:\n  - {category: gemm, patern: 'x'}\n",
            Path::new("k.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("k.yaml:2") && err.contains("patern"), "{err}");
        let err = Rules::parse(
            "rules:\n  - {category: gemm, pattern: '('}\n",
            Path::new("k.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid pattern"), "{err}");
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(fnv1a_hex(b""), "cbf29ce484222325");
        assert_eq!(fnv1a_hex(b"a"), "af63dc4c8601ec8c");
    }
}
