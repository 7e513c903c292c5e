//! Composing the seed's YAML configs into SGLang server arguments.
//!
//! Files are read in order (base, deploy, backend, optional); a later file's key
//! overrides an earlier one's. Each key is checked twice. While reading: it must be
//! ours (`warmup`, `iters`, `profile_phase`, `rank_timeout_s`, `extra_args`), the
//! seed fork's, or a server argument of some supported SGLang release (the flag
//! sets of [`super::sglang_api`], generated from the released sources); anything
//! else is an error naming the file and line, with the closest known key. Then
//! [`Composed::check_version`] checks the SGLang keys against the release that will
//! run: a renamed flag is translated with a one-line note, a deprecated one gets a
//! note, a missing one is an error with "did you mean".
//!
//! SGLang keys become flags — `key: v` → `--key v`, `true` → bare `--key`,
//! `false`/`null` → omitted, a list → `--key a b`, a mapping → JSON — and `model`
//! becomes `--model-path`. Our keys and the seed fork's are never passed to
//! SGLang. Raw flags under `extra_args:` pass through untouched.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::sglang_api::{api, VersionFacts};
use crate::error::{Error, Result};

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
    key_lines(text, key).first().copied()
}

/// Every 1-based line where top-level `key:` is set.
fn key_lines(text: &str, key: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// The key of serde_yaml_ng's "duplicate entry with key \"K\"" error.
fn duplicate_key(e: &serde_yaml_ng::Error) -> Option<String> {
    let text = e.to_string();
    let rest = text.split("duplicate entry with key \"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
}

fn closest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|k| (strsim::levenshtein(key, k), k))
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
        let value: Value = serde_yaml_ng::from_str(text).map_err(|e| match duplicate_key(&e) {
            // serde_yaml_ng points at the mapping; the user needs the second occurrence.
            Some(key) => match key_lines(text, &key).as_slice() {
                [first, second, ..] => error(
                    Some(*second),
                    format!("duplicate key {key:?} (first set on line {first})"),
                ),
                _ => error(e.location().map(|l| l.line()), e.to_string()),
            },
            None => error(e.location().map(|l| l.line()), e.to_string()),
        })?;
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
            let api = api()?;
            if !api.is_known_key(&key) {
                let hint = match closest(&key, api.all_keys()) {
                    Some(k) => format!("; did you mean {k:?}?"),
                    None => "; if it is an SGLang argument trace does not know, put the raw flag under `extra_args:`".into(),
                };
                return Err(error(line, format!("unknown key {key:?}{hint}")));
            }
            if let Some(reason) = value_problem(&key, &value) {
                return Err(error(line, reason));
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

    /// Checks every SGLang key against `facts` (the release that will run),
    /// translating renamed keys in place; returns one note per change or deprecation.
    pub fn check_version(&mut self, facts: &VersionFacts) -> Result<Vec<String>> {
        let api = api()?;
        let mut notes = Vec::new();
        for entry in &mut self.entries {
            if api.is_ours(&entry.key) {
                continue;
            }
            let flag = if entry.key == "model" {
                "model_path"
            } else {
                entry.key.as_str()
            };
            let origin = format!(
                "{}{}",
                entry.file.display(),
                entry.line.map(|l| format!(":{l}")).unwrap_or_default()
            );
            // A deprecated alias whose new name the release has (`cuda_graph_max_bs` →
            // `cuda_graph_max_bs_decode` from 0.5.14) is written under the new name.
            let deprecated_alias = facts.is_deprecated(flag)
                && api
                    .renames
                    .get(flag)
                    .is_some_and(|new| facts.has(new) && !facts.is_deprecated(new));
            if facts.has(flag) && !deprecated_alias {
                if facts.is_deprecated(flag) {
                    notes.push(format!(
                        "{flag} ({origin}) is deprecated in SGLang {}",
                        facts.version
                    ));
                }
                continue;
            }
            if let Some(renamed) = api.translate(flag, facts) {
                notes.push(format!(
                    "{flag} ({origin}) is {renamed} in SGLang {}: translated",
                    facts.version
                ));
                entry.key = renamed;
                continue;
            }
            let hint = closest(flag, facts.flags.iter().map(String::as_str))
                .map(|k| format!("; did you mean {k:?}?"))
                .unwrap_or_default();
            return Err(Error::Config {
                path: entry.file.clone(),
                line: entry.line,
                reason: format!(
                    "{flag:?} is not a server argument of SGLang {}{hint}",
                    facts.version
                ),
            });
        }
        Ok(notes)
    }

    /// The SGLang command-line flags, in composition order.
    pub fn sglang_flags(&self) -> Result<Vec<String>> {
        let api = api()?;
        let mut flags = Vec::new();
        for entry in &self.entries {
            let key = entry.key.as_str();
            if api.is_ours(key) {
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
        Ok(flags)
    }
}

/// Keys counting processes or ranks: at least 1.
const COUNT_KEYS: &[&str] = &["tp_size", "dp_size", "pp_size", "ep_size", "nnodes"];

/// Why a value cannot be what its key needs, checked while reading: `extra_args`
/// is a list of raw flags and values (a string would be shown and then lost); a
/// process count is an integer ≥ 1; a list holds scalars only (it becomes one
/// argument per item).
fn value_problem(key: &str, value: &Value) -> Option<String> {
    let scalar_items = |items: &[Value]| {
        items
            .iter()
            .all(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
    };
    match (key, value) {
        ("extra_args", Value::Null) => None,
        ("extra_args", Value::Sequence(items)) if scalar_items(items) => None,
        ("extra_args", _) => Some(
            "extra_args must be a list of raw flags and values, e.g. extra_args: ['--foo-bar', '3']"
                .into(),
        ),
        (key, value) if COUNT_KEYS.contains(&key) => match value.as_u64() {
            Some(n) if n >= 1 => None,
            _ => Some(format!("{key} must be an integer >= 1 (got {})", scalar(value))),
        },
        (key, Value::Sequence(items)) if !scalar_items(items) => Some(format!(
            "{key}: a list becomes one argument per item, so it may hold only strings, numbers and booleans"
        )),
        _ => None,
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
#[path = "compose_tests.rs"]
mod tests;
