//! What an ingest is asked to do: the inputs, the rules, the dataset root, and the
//! run's descriptive facts a trace does not carry. Shared by every ingest stage, below
//! all of them.

use std::path::PathBuf;

use crate::attribute::Rules;

/// Everything `trace ingest` needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Input files (nsys SQLite exports or `.nsys-rep` reports).
    pub inputs: Vec<PathBuf>,
    /// Run id; defaults to the first input's file stem.
    pub run_id: Option<String>,
    /// Category rules.
    pub rules: Rules,
    /// Dataset root, e.g. `results/parquet`.
    pub out_dir: PathBuf,
    /// nsys binary to export `.nsys-rep` inputs with (found automatically if `None`).
    pub nsys: Option<PathBuf>,
    /// Draw progress bars on stderr.
    pub progress: bool,
    /// Descriptive fields for the `runs` table (set by `trace capture`).
    pub meta: RunMeta,
    /// The model's architecture, when known: writes the `model_flops` table.
    pub arch: Option<crate::arch::Arch>,
}

/// Descriptive fields of a run that the trace itself does not carry.
#[derive(Debug, Clone, Default)]
pub struct RunMeta {
    pub model: Option<String>,
    pub mconf: Option<String>,
    pub deploy: Option<String>,
    pub backend: Option<String>,
    pub engine: Option<String>,
    /// SGLang release of a capture (`sglang.__version__`).
    pub sglang_version: Option<String>,
    /// Rank of a single Kineto input whose file carries none (`--rank`).
    pub rank: Option<i64>,
}
