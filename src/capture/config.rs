//! What a capture is asked to do and what it reports back ([`CaptureConfig`],
//! [`CaptureOutcome`]), the harness files the binary carries, and the run-id clock:
//! the types every capture stage shares, below all of them.

use std::path::PathBuf;

use super::command::Profile;

use crate::attribute::Rules;
use crate::ingest;

/// The harness, compiled into the binary: (file name, text), all written into the run
/// directory; the first is the entry point.
pub const HARNESS_FILES: &[(&str, &str)] = &[
    (
        "trace_harness.py",
        include_str!("../../python/trace_harness.py"),
    ),
    ("trace_run.py", include_str!("../../python/trace_run.py")),
    (
        "trace_sglang.py",
        include_str!("../../python/trace_sglang.py"),
    ),
    (
        "trace_sglang_facts.py",
        include_str!("../../python/trace_sglang_facts.py"),
    ),
    (
        "trace_ranks.py",
        include_str!("../../python/trace_ranks.py"),
    ),
    (
        "trace_timing.py",
        include_str!("../../python/trace_timing.py"),
    ),
    ("trace_hf.py", include_str!("../../python/trace_hf.py")),
    (
        "trace_modules.py",
        include_str!("../../python/trace_modules.py"),
    ),
    ("sglang_api.json", super::sglang_api::API_JSON),
];

/// Everything `trace capture` needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub model: String,
    pub mconf: String,
    pub base: String,
    pub deploy: String,
    pub backend: String,
    pub optional: Option<String>,
    pub profile: Option<Profile>,
    pub save: bool,
    pub ip: Option<String>,
    pub rank: u32,
    pub port: u16,
    /// Run id; required with `--ip` (every node must name the same run).
    pub run_id: Option<String>,
    pub grid: Option<String>,
    pub engine: String,
    /// hf engine: decode eagerly instead of replaying a CUDA graph over a static KV cache.
    pub eager: bool,
    /// Module ranges (NVTX per module forward) inside the profiled window.
    pub module_ranges: super::command::ModuleRangeSource,
    /// The SGLang release to compose for (dry run) or to expect (real run).
    pub sglang_version: Option<String>,
    pub warmup: Option<u32>,
    pub iters: Option<u32>,
    pub dry_run: bool,
    pub nsys: Option<PathBuf>,
    pub python: PathBuf,
    pub conf_dir: PathBuf,
    pub model_dir: PathBuf,
    pub results_dir: PathBuf,
    /// Dataset root the capture ingests into (`--data`, $TRACE_DATA, else
    /// `<results>/parquet`).
    pub dataset_dir: PathBuf,
    pub rules: Rules,
    pub progress: bool,
}

/// What a capture did.
#[derive(Debug, Clone)]
pub struct CaptureOutcome {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub latency_rows: usize,
    pub ingest: Option<ingest::Summary>,
    pub dry_run: bool,
    /// The SGLang release the run used or was composed for.
    pub sglang_version: Option<String>,
}

/// UTC timestamp `YYYYMMDDTHHMMSS` for run ids.
pub(super) fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
