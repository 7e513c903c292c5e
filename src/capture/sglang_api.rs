//! The SGLang releases trace supports and their server-argument flags.
//!
//! Read from `python/sglang_api.json`, embedded at build time. That file is
//! generated from the released SGLang wheels by `scripts/sglang_api.py generate`
//! (never typed by hand) and checked against them in CI by
//! `scripts/sglang_api.py check`; the harness reads the same file at run time.
//! Invariants: `supported` is sorted oldest first and every entry has facts; the
//! supported range is `supported[0] ..= supported[last]` and lists every release
//! published in it (the contract check fails otherwise). A version is run or
//! composed for only with its own facts: one without them (a pre-release, a local
//! build, a release outside the range) is refused, naming the known releases.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The embedded facts file (also written next to the harness in every run directory).
pub const API_JSON: &str = include_str!("../../python/sglang_api.json");

/// What trace needs to know about one SGLang release.
#[derive(Debug, Clone, Deserialize)]
pub struct VersionFacts {
    pub version: String,
    pub bench_module: String,
    /// Server-argument flags, `snake_case`.
    pub flags: Vec<String>,
    /// Flags the release still accepts but has deprecated.
    pub deprecated_flags: Vec<String>,
}

/// The whole facts file.
#[derive(Debug, Clone, Deserialize)]
pub struct SglangApi {
    pub supported: Vec<String>,
    pub trace_keys: Vec<String>,
    pub seed_only_keys: Vec<String>,
    /// Old config key → the flag that replaced it.
    pub renames: BTreeMap<String, String>,
    pub versions: BTreeMap<String, VersionFacts>,
}

/// The embedded facts, parsed once.
pub fn api() -> Result<&'static SglangApi> {
    static API: OnceLock<std::result::Result<SglangApi, String>> = OnceLock::new();
    API.get_or_init(|| serde_json::from_str(API_JSON).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|reason| Error::Config {
            path: PathBuf::from("python/sglang_api.json (embedded)"),
            line: None,
            reason: reason.clone(),
        })
}

/// `0.4.10.post2` → (0, 4, 10, 2); `None` when it does not start with three numbers.
pub fn version_key(version: &str) -> Option<(u32, u32, u32, u32)> {
    let mut parts = version.trim().splitn(4, '.');
    let number = |p: Option<&str>| -> Option<u32> {
        let digits: String = p?.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let (a, b, c) = (
        number(parts.next())?,
        number(parts.next())?,
        number(parts.next())?,
    );
    let post = parts
        .next()
        .and_then(|p| p.strip_prefix("post"))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    Some((a, b, c, post))
}

impl SglangApi {
    /// The supported range as text, `0.4.10.post2 .. 0.5.23`.
    pub fn range(&self) -> String {
        format!(
            "{} .. {}",
            self.supported.first().map_or("?", String::as_str),
            self.supported.last().map_or("?", String::as_str)
        )
    }

    /// The newest supported release.
    pub fn newest(&self) -> Result<&VersionFacts> {
        self.supported
            .last()
            .and_then(|v| self.versions.get(v))
            .ok_or_else(|| Error::Usage("the embedded SGLang facts list no release".into()))
    }

    /// The facts of exactly `version`; any other version is refused with the list of
    /// releases whose facts are shipped (no release runs with another's facts).
    pub fn facts_for(&self, version: &str) -> Result<&VersionFacts> {
        let wanted = version.trim();
        self.versions
            .values()
            .find(|f| f.version == wanted)
            .ok_or_else(|| {
                let why = match version_key(wanted) {
                    None => "is not a release number".to_string(),
                    Some(key)
                        if self.supported.first().and_then(|v| version_key(v)) <= Some(key)
                            && Some(key) <= self.supported.last().and_then(|v| version_key(v)) =>
                    {
                        "is inside the supported range but no published release of that name has shipped facts (a pre-release or local build?)".to_string()
                    }
                    Some(_) => format!("is outside the supported range {}", self.range()),
                };
                Error::Usage(format!(
                    "SGLang {version} {why}; install one of the {} releases known to work: {} (pip install sglang==VERSION; --sglang-version for a dry run)",
                    self.supported.len(),
                    self.supported.join(", ")
                ))
            })
    }

    /// Whether `key` is ours, the seed fork's, or a flag of any supported release.
    pub fn is_known_key(&self, key: &str) -> bool {
        let flag = if key == "model" { "model_path" } else { key };
        self.is_ours(key) || self.versions.values().any(|v| v.has(flag))
    }

    /// Keys trace reads itself or that only the seed's fork knew: never passed to SGLang.
    pub fn is_ours(&self, key: &str) -> bool {
        self.trace_keys.iter().any(|k| k == key) || self.seed_only_keys.iter().any(|k| k == key)
    }

    /// Every key a config may use, for "did you mean".
    pub fn all_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .versions
            .values()
            .flat_map(|v| v.flags.iter().map(String::as_str))
            .chain(self.trace_keys.iter().map(String::as_str))
            .chain(self.seed_only_keys.iter().map(String::as_str))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The name `key` has in `facts`' release when it was renamed (either way).
    pub fn translate(&self, key: &str, facts: &VersionFacts) -> Option<String> {
        self.renames
            .iter()
            .find_map(|(old, new)| {
                if key == old {
                    Some(new)
                } else if key == new {
                    Some(old)
                } else {
                    None
                }
            })
            .filter(|other| facts.has(other))
            .cloned()
    }
}

impl VersionFacts {
    pub fn has(&self, flag: &str) -> bool {
        self.flags
            .binary_search_by(|f| f.as_str().cmp(flag))
            .is_ok()
    }

    pub fn is_deprecated(&self, flag: &str) -> bool {
        self.deprecated_flags.iter().any(|f| f == flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_facts_cover_the_supported_releases() {
        let api = api().unwrap();
        assert_eq!(api.range(), "0.4.10.post2 .. 0.5.23");
        for v in &api.supported {
            let facts = &api.versions[v];
            assert!(facts.flags.windows(2).all(|w| w[0] < w[1]), "{v} sorted");
            assert!(facts.has("tp_size") && facts.has("model_path"), "{v}");
        }
        let (old, new) = (&api.versions["0.4.10.post2"], &api.versions["0.5.23"]);
        assert!(old.has("enable_ep_moe") && !new.has("enable_ep_moe"));
        assert!(
            !old.has("enable_layerwise_nvtx_marker") && new.has("enable_layerwise_nvtx_marker")
        );
        assert!(
            !old.has("disable_piecewise_cuda_graph") && !new.has("disable_piecewise_cuda_graph")
        );
        assert_eq!(
            api.translate("cuda_graph_max_bs", new).as_deref(),
            Some("cuda_graph_max_bs_decode")
        );
        assert_eq!(
            api.translate("cuda_graph_max_bs_decode", old).as_deref(),
            Some("cuda_graph_max_bs")
        );
        assert!(new.is_deprecated("enable_dp_attention"));
    }

    #[test]
    fn every_release_runs_with_its_own_facts_or_is_refused_naming_the_known_ones() {
        let api = api().unwrap();
        assert_eq!(version_key("0.4.10.post2"), Some((0, 4, 10, 2)));
        assert_eq!(version_key("0.5.23rc1"), Some((0, 5, 23, 0)));
        assert_eq!(version_key("x"), None);
        assert_eq!(
            api.supported.len(),
            43,
            "every release 0.4.10.post2 ..= 0.5.23"
        );
        for v in &api.supported {
            assert_eq!(&api.facts_for(v).unwrap().version, v);
        }
        assert!(api.facts_for("0.5.17").unwrap().has("tp_size"));
        for (bad, why) in [
            ("0.4.10", "outside the supported range"),
            ("0.5.24", "outside the supported range"),
            ("0.5.17rc0", "no published release of that name"),
            ("0.5.9.post3", "no published release of that name"),
            ("dev", "not a release number"),
        ] {
            let err = api.facts_for(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(
                err.contains("0.4.10.post2, 0.5.1, ") && err.contains("0.5.17, 0.5.18"),
                "{bad}: {err}"
            );
        }
    }
}
