//! `trace doctor`: is this machine ready? What `trace` found (its build, the shipped
//! files, the dataset, nsys, Python and its packages, the SGLang facts that apply, the
//! GPUs) and, for each thing missing, what to do about it.
//!
//! Invariants: every check runs (one missing tool never hides the others); nothing is
//! written or installed; each check says which work needs it, so the verdict can be
//! "ready to analyse, not to capture" on a laptop.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::capture::sglang_api;
use crate::dataset::schema::DATASET_SCHEMA_VERSION;
use crate::nsys_tool::{self, PARQUETDIR_SINCE};
use crate::shipped;

/// Which work a check is needed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Purpose {
    /// Ingest, query, report, diff: reading traces and the dataset.
    Analysis,
    /// `trace capture`: running a model under Nsight Systems (also analysis).
    Capture,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, with a caveat worth acting on.
    Warn,
    /// Missing or broken: the purpose it is needed for cannot be done.
    Missing,
}

/// One line of the doctor's answer.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub found: String,
    /// What to do (for `Warn` and `Missing`).
    pub fix: Option<String>,
    pub needed_for: Purpose,
}

/// Where to look.
#[derive(Debug, Clone)]
pub struct Options {
    pub data: PathBuf,
    pub nsys: Option<PathBuf>,
    pub python: PathBuf,
}

/// Runs every check.
pub fn checks(opts: &Options) -> Vec<Check> {
    let mut out = vec![
        ok(
            "trace",
            crate::build_info::version_text().to_string(),
            Purpose::Analysis,
        ),
        shipped_files(),
        dataset(&opts.data),
        nsys(opts.nsys.as_deref()),
    ];
    out.extend(python(&opts.python));
    out.push(gpus());
    out
}

fn ok(name: &'static str, found: String, needed_for: Purpose) -> Check {
    Check {
        name,
        status: Status::Ok,
        found,
        fix: None,
        needed_for,
    }
}

fn problem(
    name: &'static str,
    status: Status,
    found: String,
    fix: String,
    needed_for: Purpose,
) -> Check {
    Check {
        name,
        status,
        found,
        fix: Some(fix),
        needed_for,
    }
}

fn shipped_files() -> Check {
    let mut parts = Vec::new();
    for (rel, flag) in [("conf", "--conf"), ("model_conf", "--model-dir")] {
        match shipped::resolve(rel, None, flag) {
            Ok((path, origin)) => {
                parts.push(format!("{rel}: {} ({})", origin.describe(), path.display()))
            }
            Err(e) => return problem(
                "shipped files",
                Status::Missing,
                e.to_string(),
                "set TRACE_CACHE_DIR to a writable folder, or `trace init DIR` and run from DIR"
                    .into(),
                Purpose::Analysis,
            ),
        }
    }
    ok("shipped files", parts.join("; "), Purpose::Analysis)
}

fn dataset(root: &Path) -> Check {
    if !root.exists() {
        return ok(
            "dataset",
            format!(
                "{} does not exist yet (ingest, capture and demo create it; --data or TRACE_DATA points elsewhere)",
                root.display()
            ),
            Purpose::Analysis,
        );
    }
    let runs = std::fs::read_dir(root.join("runs"))
        .map(|d| d.filter_map(|e| e.ok()).count())
        .unwrap_or(0);
    let writable = tempfile::tempfile_in(root).is_ok();
    let behind = crate::query::rollup::not_covered(root);
    let compacted = if behind >= crate::query::rollup::COMPACT_AFTER {
        format!("; {behind} run(s) outside the compacted summaries (fleet queries read their files: `trace compact`)")
    } else {
        String::new()
    };
    if writable {
        ok(
            "dataset",
            format!("{}: {runs} run(s){compacted}", root.display()),
            Purpose::Analysis,
        )
    } else {
        problem(
            "dataset",
            Status::Warn,
            format!("{}: {runs} run(s), read-only", root.display()),
            "queries work; ingest needs a writable --data (or TRACE_DATA)".into(),
            Purpose::Analysis,
        )
    }
}

fn nsys(explicit: Option<&Path>) -> Check {
    let path = match nsys_tool::find(explicit) {
        Ok(path) => path,
        Err(e) => {
            return problem(
                "nsys",
                Status::Missing,
                e.to_string(),
                "install Nsight Systems ≥ 2024.6 (or Nsight Compute, which bundles it), or pass --nsys / set TRACE_NSYS; ingest of .sqlite and Kineto JSON does not need it".into(),
                Purpose::Capture,
            )
        }
    };
    let text = nsys_tool::version_text(&path).unwrap_or_default();
    match nsys_tool::release_of(&text) {
        Some(release) if release >= PARQUETDIR_SINCE => ok(
            "nsys",
            format!("{} ({}; exports parquetdir)", path.display(), text.trim()),
            Purpose::Capture,
        ),
        Some(_) => problem(
            "nsys",
            Status::Warn,
            format!("{} ({}; SQLite export only)", path.display(), text.trim()),
            "nsys ≥ 2024.6 exports parquetdir, which is faster to export".into(),
            Purpose::Capture,
        ),
        None => problem(
            "nsys",
            Status::Missing,
            format!("{}: `--version` printed {:?}", path.display(), text.trim()),
            "point --nsys or TRACE_NSYS at a working nsys".into(),
            Purpose::Capture,
        ),
    }
}

/// Python packages asked for by their distribution names, without importing them.
const PACKAGES: &str = r#"
import json, sys
from importlib import metadata
found = {"python": sys.version.split()[0]}
for name in ("torch", "transformers", "sglang", "flashinfer-python", "sgl-kernel"):
    try:
        found[name] = metadata.version(name)
    except Exception:
        found[name] = None
print(json.dumps(found))
"#;

fn python(python: &Path) -> Vec<Check> {
    let fix_python = format!(
        "install Python 3 with PyTorch, or pass --python (tried {})",
        python.display()
    );
    let Some(text) = run_text(python, &["-c", PACKAGES]) else {
        return vec![problem(
            "python",
            Status::Missing,
            format!("{} does not run", python.display()),
            fix_python,
            Purpose::Capture,
        )];
    };
    let found: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
    let version = |name: &str| found[name].as_str().map(str::to_string);
    let mut out = vec![ok(
        "python",
        format!(
            "{} ({})",
            python.display(),
            version("python").unwrap_or_default()
        ),
        Purpose::Capture,
    )];
    out.push(match version("torch") {
        Some(v) => ok("torch", v, Purpose::Capture),
        None => problem(
            "torch",
            Status::Missing,
            "not installed".into(),
            format!("pip install torch (into {})", python.display()),
            Purpose::Capture,
        ),
    });
    out.push(match version("transformers") {
        Some(v) => ok("transformers", v, Purpose::Capture),
        None => problem(
            "transformers",
            Status::Warn,
            "not installed".into(),
            "the hf engine needs it: pip install transformers".into(),
            Purpose::Capture,
        ),
    });
    out.push(sglang(version("sglang")));
    let kernels: Vec<String> = ["flashinfer-python", "sgl-kernel"]
        .iter()
        .filter_map(|name| version(name).map(|v| format!("{name} {v}")))
        .collect();
    if !kernels.is_empty() {
        out.push(ok("kernel libs", kernels.join(", "), Purpose::Capture));
    }
    out
}

fn sglang(installed: Option<String>) -> Check {
    let api = match sglang_api::api() {
        Ok(api) => api,
        Err(e) => {
            return problem(
                "sglang",
                Status::Missing,
                e.to_string(),
                "a broken build".into(),
                Purpose::Capture,
            )
        }
    };
    let Some(version) = installed else {
        return problem(
            "sglang",
            Status::Warn,
            "not installed".into(),
            format!(
                "the hf engine still captures; for --engine sglang: pip install sglang==VERSION, one of {}",
                api.range()
            ),
            Purpose::Capture,
        );
    };
    match api.facts_for(&version) {
        Ok(facts) => ok(
            "sglang",
            format!(
                "{version}: shipped facts apply (bench module {}, {} server flags, {} deprecated)",
                facts.bench_module,
                facts.flags.len(),
                facts.deprecated_flags.len()
            ),
            Purpose::Capture,
        ),
        Err(e) => problem(
            "sglang",
            Status::Warn,
            version,
            e.to_string(),
            Purpose::Capture,
        ),
    }
}

fn gpus() -> Check {
    let query = [
        "--query-gpu=index,name,memory.total,driver_version",
        "--format=csv,noheader",
    ];
    match run_text(Path::new("nvidia-smi"), &query) {
        Some(text) if !text.trim().is_empty() => {
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            ok(
                "gpus",
                format!("{}: {}", lines.len(), lines.join("; ")),
                Purpose::Capture,
            )
        }
        _ => problem(
            "gpus",
            Status::Missing,
            "nvidia-smi found no NVIDIA GPU".into(),
            "capture needs an NVIDIA GPU and driver; ingest, query and report do not".into(),
            Purpose::Capture,
        ),
    }
}

/// Standard output of a command that exited 0 (`None` otherwise).
fn run_text(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The printed answer, and whether the machine is ready for `purpose`.
pub fn render(checks: &[Check], purpose: Purpose) -> (String, bool) {
    let mut text = String::new();
    for check in checks {
        let status = match check.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "MISSING",
        };
        let _ = writeln!(text, "{status:<8} {:<14} {}", check.name, check.found);
        if let Some(fix) = &check.fix {
            let _ = writeln!(text, "{:<8} {:<14} → {fix}", "", "");
        }
    }
    let missing_for = |p: Purpose| -> Vec<&str> {
        checks
            .iter()
            .filter(|c| c.status == Status::Missing && c.needed_for <= p)
            .map(|c| c.name)
            .collect()
    };
    for (purpose_name, p) in [
        ("analysis (ingest, query, report, diff)", Purpose::Analysis),
        ("capture", Purpose::Capture),
    ] {
        let missing = missing_for(p);
        let _ = if missing.is_empty() {
            writeln!(text, "ready for {purpose_name}")
        } else {
            writeln!(
                text,
                "not ready for {purpose_name}: {} missing",
                missing.join(", ")
            )
        };
    }
    let _ = writeln!(
        text,
        "dataset schema version {DATASET_SCHEMA_VERSION}; `trace doctor --for analysis` exits 0 when analysis is possible"
    );
    (text, missing_for(purpose).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsys_release_reads_both_version_styles() {
        assert_eq!(
            nsys_tool::release_of("NVIDIA Nsight Systems version 2025.3.1.90-253135822126v0"),
            Some((2025, 3))
        );
        assert_eq!(
            nsys_tool::release_of("NVIDIA Nsight Systems version 2024.6.2.225-246235244400v0"),
            Some((2024, 6))
        );
        assert_eq!(nsys_tool::release_of("version 1.2.3"), None);
        assert!(Some((2024, 5)) < Some(PARQUETDIR_SINCE));
    }

    #[test]
    fn missing_capture_tools_do_not_block_analysis() {
        let checks = vec![
            ok("trace", "x".into(), Purpose::Analysis),
            problem(
                "nsys",
                Status::Missing,
                "not found".into(),
                "install".into(),
                Purpose::Capture,
            ),
        ];
        let (text, ready) = render(&checks, Purpose::Analysis);
        assert!(ready, "{text}");
        assert!(
            text.contains("not ready for capture: nsys missing"),
            "{text}"
        );
        let (_, ready) = render(&checks, Purpose::Capture);
        assert!(!ready);
    }
}
