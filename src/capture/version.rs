//! Which SGLang release a capture composes for, and fitting the composed flags to it.
//!
//! A real run uses the release importable by `--python` (a version without shipped
//! facts is an error naming the releases known to work; `--sglang-version`, if
//! given, must match it). A dry run uses `--sglang-version`, else the installed release,
//! else the newest shipped one (with a note). The composed keys are then checked
//! against that release's flag set ([`Composed::check_version`]), after the
//! CUDA-graph batch limit has been raised to the grid's largest batch, as SGLang's
//! own one-batch benchmark does (decode above the limit would silently run
//! without CUDA graphs).

use std::path::Path;
use std::process::{Command, Stdio};

use serde_yaml_ng::Value;

use super::compose::Composed;
use super::sglang_api::{api, VersionFacts};
use crate::error::{Error, Result};

/// The release a capture composes for.
#[derive(Debug, Clone)]
pub struct Target {
    /// The version as installed or asked for.
    pub version: String,
    /// The shipped flag set it is checked against.
    pub facts: &'static VersionFacts,
    /// Where the version came from, for the dry-run header.
    pub source: &'static str,
}

/// `sglang.__version__` as `python` sees it; `None` when SGLang is not importable.
pub fn installed_version(python: &Path) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import sglang; print(sglang.__version__)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    text.lines()
        .last()
        .map(|l| l.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Picks the release; `notes` gets a line when the choice needs explaining.
pub fn resolve(
    asked: Option<&str>,
    python: &Path,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> Result<Target> {
    let api = api()?;
    let installed = installed_version(python);
    let (version, source) = match (asked, installed) {
        (Some(a), Some(i)) if !dry_run && a != i => {
            return Err(Error::Usage(format!(
                "--sglang-version {a} does not match SGLang {i} installed for {}",
                python.display()
            )))
        }
        (Some(a), _) => (a.to_string(), "--sglang-version"),
        (None, Some(i)) => (i, "installed"),
        (None, None) if dry_run => {
            let newest = api.newest()?.version.clone();
            notes.push(format!(
                "SGLang is not importable with {}; composing for the newest supported release, {newest} (use --sglang-version to pick one)",
                python.display()
            ));
            (newest, "newest supported")
        }
        (None, None) => {
            return Err(Error::Tool(format!(
                "SGLang is not importable with {}: install a release in {} (pip install sglang==VERSION), pass --python, or use --engine hf",
                python.display(),
                api.range()
            )))
        }
    };
    let facts = api.facts_for(&version)?;
    Ok(Target {
        version,
        facts,
        source,
    })
}

/// Raises the CUDA-graph batch limit to `max_bsz` and checks every key against the target.
pub fn fit(composed: &mut Composed, max_bsz: u32, target: &Target) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let graphs_off = composed.get("disable_cuda_graph").and_then(Value::as_bool) == Some(true);
    if !graphs_off {
        let keys = ["cuda_graph_max_bs", "cuda_graph_max_bs_decode"];
        let current = keys
            .iter()
            .find_map(|k| composed.get(k).map(|v| (*k, v.as_u64())));
        let (key, raise) = match current {
            None => ("cuda_graph_max_bs", true),
            Some((key, value)) => (key, value.is_some_and(|v| v < u64::from(max_bsz))),
        };
        if raise {
            if let Some((_, Some(was))) = current {
                notes.push(format!(
                    "{key} raised from {was} to {max_bsz}, the grid's largest batch (decode above it would run without CUDA graphs)"
                ));
            }
            composed.set(
                key,
                Value::Number(max_bsz.into()),
                Path::new("trace capture (largest grid batch)"),
                None,
            );
        }
    }
    notes.extend(composed.check_version(target.facts)?);
    Ok(notes)
}
