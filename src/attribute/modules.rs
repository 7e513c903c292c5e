//! Model modules as attribution evidence: the text of module ranges, the layer
//! index in a qualified name, the module-class → category rules of
//! `conf/modules.yaml`, and the precedence between module and kernel name.
//!
//! Invariants:
//! - [`ModuleText::parse`] accepts exactly the harness convention
//!   `module:<qualified name>:<ClassName>` (qualified names contain no `:`; the
//!   root model has an empty qualified name), PyTorch's `nn.Module: <ClassName>_<n>`,
//!   and SGLang's layer-wise markers (`--enable-layerwise-nvtx-marker`: a Python
//!   dict `{'Module': '<prefix>.<qualified name>', …}`, no class, so only the
//!   `name:` rules can match them); anything else is not a module range.
//! - [`decide`] is the single place the precedence lives: a name that says
//!   communication wins everywhere; then the module's category (unless its rule
//!   `refine`s and the name is more specific); then the name; then `other`.
//!   Every kernel gets exactly one [`Source`].

use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::vocab::{assignable_categories, COMMUNICATION, OTHER};

/// The module rules shipped in `conf/modules.yaml`, compiled into the binary.
pub const DEFAULT_MODULES_YAML: &str = include_str!("../../conf/modules.yaml");

/// Where a kernel's category came from (`kernels.category_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// A module rule of `conf/modules.yaml` (with the refinements it allows).
    Module,
    /// The kernel-name rules (`conf/kernels.yaml`).
    Name,
    /// Neither: the kernel is `other`.
    None,
}

impl Source {
    /// The value stored in `kernels.category_source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Module => "module",
            Source::Name => "name",
            Source::None => "none",
        }
    }
}

/// A module range's text, split into qualified name and class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleText<'a> {
    /// `model.layers.7.mlp`; empty for the root model. For PyTorch's own
    /// `nn.Module` events (no qualified name) the event name, `Qwen3MoeMLP_3`.
    pub qualified: &'a str,
    /// `Qwen3MoeSparseMoeBlock`.
    pub class: &'a str,
}

impl<'a> ModuleText<'a> {
    /// Parses `module:<qualified>:<Class>` or `nn.Module: <Class>_<n>`.
    pub fn parse(text: &'a str) -> Option<ModuleText<'a>> {
        if let Some(rest) = text.strip_prefix("module:") {
            let (qualified, class) = rest.rsplit_once(':')?;
            let valid = !class.is_empty()
                && !qualified.contains(':')
                && class.chars().all(|c| c.is_alphanumeric() || c == '_');
            return valid.then_some(ModuleText { qualified, class });
        }
        if let Some(rest) = text.strip_prefix("{'Module': '") {
            return sglang_marker(rest);
        }
        let name = text.strip_prefix("nn.Module: ")?;
        let (class, instance) = name.rsplit_once('_')?;
        let valid = !class.is_empty()
            && !instance.is_empty()
            && instance.bytes().all(|b| b.is_ascii_digit());
        valid.then_some(ModuleText {
            qualified: name,
            class,
        })
    }
}

impl ModuleText<'_> {
    /// The decoder-layer index the module names: from the qualified name
    /// ([`layer_of`]), or for PyTorch's own `nn.Module: <Class>_<n>` events of a
    /// decoder-layer class ([`is_layer_class`]) the instance number `n`. PyTorch
    /// numbers each class's instances in the order the profiler first sees them
    /// call `forward` (`torch/csrc/autograd/profiler_python.cpp`), and a model runs
    /// its layers in order, so the n-th decoder layer seen is layer n (the modules
    /// inside inherit it from their parent).
    pub fn layer(&self) -> Option<i32> {
        let instance = self
            .qualified
            .strip_prefix(self.class)
            .and_then(|rest| rest.strip_prefix('_'))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match instance {
            Some(n) if is_layer_class(self.class) => n.parse().ok(),
            Some(_) => None,
            None => layer_of(self.qualified),
        }
    }
}

/// A decoder-layer class by name: `…DecoderLayer`, `…TransformerLayer`,
/// `…EncoderLayer`, or a `…Block` that is not a sub-block (`MLPBlock`,
/// `SparseMoeBlock`, `AttentionBlock`): `LlamaDecoderLayer`, `Qwen2DecoderLayer`,
/// gpt-oss's `TransformerBlock`, `GPT2Block`.
pub fn is_layer_class(class: &str) -> bool {
    let lower = class.to_ascii_lowercase();
    let sub_block = ["mlp", "moe", "attention", "attn", "ffn", "expert"]
        .iter()
        .any(|part| lower.contains(part));
    ["decoderlayer", "transformerlayer", "encoderlayer"]
        .iter()
        .any(|end| lower.ends_with(end))
        || (lower.ends_with("block") && !sub_block)
}

/// The qualified name of an SGLang layer-wise marker (after `{'Module': '`). SGLang
/// names modules `<prefix>.<qualified>` with the prefix `model` (ModelRunner's
/// `register_hooks(self.model, module_prefix="model")`, 0.5.5.post3 on:
/// `model.model.layers.0.self_attn`, `model.logits_processor`), `top`, or the model
/// path (`meta-llama/Llama-3.2-1B-Instruct.model.layers.0.self_attn`), which may itself
/// contain dots: then the qualified name starts at the first `model.` / `lm_head`
/// segment after the last `/`.
fn sglang_marker(rest: &str) -> Option<ModuleText<'_>> {
    let full = &rest[..rest.find('\'')?];
    let after_path = full.rfind('/').map_or(0, |slash| slash + 1);
    let tail = &full[after_path..];
    let qualified = if let Some(q) = full
        .strip_prefix("top.")
        .or_else(|| full.strip_prefix("model."))
    {
        q
    } else if full == "top" || full == "model" {
        ""
    } else {
        [".model.", ".lm_head"]
            .iter()
            .filter_map(|seg| tail.find(seg))
            .min()
            .map_or("", |at| &tail[at + 1..])
    };
    Some(ModuleText {
        qualified,
        class: "",
    })
}

/// Decoder-layer index in a qualified name: the integer after a `layers`,
/// `layer`, `h`, `blocks` or `block` segment (`model.layers.7.mlp` → 7).
pub fn layer_of(qualified: &str) -> Option<i32> {
    let mut segments = qualified.split('.');
    while let Some(segment) = segments.next() {
        if matches!(segment, "layers" | "layer" | "h" | "blocks" | "block") {
            if let Some(Ok(index)) = segments.clone().next().map(str::parse::<i32>) {
                return Some(index);
            }
        }
    }
    None
}

/// What a module rule says about the kernels beneath it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleCategory {
    pub category: &'static str,
    /// The kernel-name rules decide where they are more specific.
    pub refine: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModulesFile {
    rules: Vec<ModuleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleEntry {
    category: String,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    refine: bool,
    #[serde(default)]
    holds: Option<String>,
}

#[derive(Debug, Clone)]
struct ModuleRule {
    class: Option<Regex>,
    name: Option<Regex>,
    /// Matches only a module with a direct child whose last name segment matches.
    holds: Option<Regex>,
    verdict: ModuleCategory,
}

/// Compiled `conf/modules.yaml`.
#[derive(Debug, Clone)]
pub struct ModuleRules {
    rules: Vec<ModuleRule>,
}

impl ModuleRules {
    /// The rules compiled into the binary.
    pub fn builtin() -> Result<ModuleRules> {
        ModuleRules::parse(
            DEFAULT_MODULES_YAML,
            Path::new("<built-in conf/modules.yaml>"),
        )
    }

    /// Parses rules from YAML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<ModuleRules> {
        let config_error = |line: Option<usize>, reason: String| Error::Config {
            path: origin.to_path_buf(),
            line,
            reason,
        };
        let file: ModulesFile = serde_yaml_ng::from_str(text)
            .map_err(|e| config_error(e.location().map(|l| l.line()), e.to_string()))?;
        let item_lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with("- "))
            .map(|(n, _)| n + 1)
            .collect();
        let mut rules = Vec::with_capacity(file.rules.len());
        for (index, entry) in file.rules.into_iter().enumerate() {
            let line = item_lines.get(index).copied();
            let category = assignable_categories()
                .find(|c| *c == entry.category)
                .ok_or_else(|| {
                    config_error(
                        line,
                        format!(
                            "unknown module category {:?}; use one of: {}",
                            entry.category,
                            assignable_categories().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
            if entry.class.is_none() && entry.name.is_none() {
                return Err(config_error(
                    line,
                    "a module rule needs `class:` or `name:` (or both; `holds:` narrows them)"
                        .into(),
                ));
            }
            let compile = |pattern: &Option<String>, key: &str| -> Result<Option<Regex>> {
                pattern
                    .as_deref()
                    .map(|p| {
                        Regex::new(p).map_err(|e| {
                            config_error(line, format!("invalid {key} pattern for {category}: {e}"))
                        })
                    })
                    .transpose()
            };
            rules.push(ModuleRule {
                class: compile(&entry.class, "class")?,
                name: compile(&entry.name, "name")?,
                holds: compile(&entry.holds, "holds")?,
                verdict: ModuleCategory {
                    category,
                    refine: entry.refine,
                },
            });
        }
        Ok(ModuleRules { rules })
    }

    /// The first rule matching a module, if any, knowing nothing of its children
    /// (a `holds:` rule never matches).
    pub fn classify(&self, module: &ModuleText) -> Option<ModuleCategory> {
        self.classify_with_children(module, &[])
    }

    /// The first rule matching a module whose direct children's last name segments
    /// are `children` (`experts`, `gate`, … of `model.layers.3.mlp`).
    pub fn classify_with_children(
        &self,
        module: &ModuleText,
        children: &[String],
    ) -> Option<ModuleCategory> {
        self.rules
            .iter()
            .find(|r| {
                r.class.as_ref().is_none_or(|re| re.is_match(module.class))
                    && r.name
                        .as_ref()
                        .is_none_or(|re| re.is_match(module.qualified))
                    && r.holds
                        .as_ref()
                        .is_none_or(|re| children.iter().any(|c| re.is_match(c)))
            })
            .map(|r| r.verdict)
    }
}

/// The precedence: the kernel's final category and where it came from, given the
/// deciding module's verdict (if the kernel has one) and the name rules' category.
/// Inside a mapped module the source is `module` even where the module's rule lets
/// the name be more specific (a communication name anywhere; a `refine: true`
/// class): the module placed the kernel and its rule chose the name's word.
pub fn decide(module: Option<ModuleCategory>, by_name: &'static str) -> (&'static str, Source) {
    let name_is_specific = by_name != "elementwise" && by_name != OTHER;
    match module {
        Some(_) if by_name == COMMUNICATION => (by_name, Source::Module),
        None if by_name == COMMUNICATION => (by_name, Source::Name),
        Some(m) if m.refine && name_is_specific => (by_name, Source::Module),
        Some(m) => (m.category, Source::Module),
        None if by_name == OTHER => (by_name, Source::None),
        None => (by_name, Source::Name),
    }
}
