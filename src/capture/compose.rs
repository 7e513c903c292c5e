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

use serde_yaml::Value;

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

/// The key of serde_yaml's "duplicate entry with key \"K\"" error.
fn duplicate_key(e: &serde_yaml::Error) -> Option<String> {
    let text = e.to_string();
    let rest = text.split("duplicate entry with key \"").nth(1)?;
    Some(rest.split('"').next()?.to_string())
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

fn closest<'a>(key: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|k| (edit_distance(key, k), k))
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
        let value: Value = serde_yaml::from_str(text).map_err(|e| match duplicate_key(&e) {
            // serde_yaml points at the mapping; the user needs the second occurrence.
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
            if facts.has(flag) {
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
            err.starts_with(
                "d.yaml:3: \"enable_ep_moe\" is not a server argument of SGLang 0.5.23"
            ),
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
}
