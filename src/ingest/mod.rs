//! Ingest: turn profiler exports into the run's Parquet tables.
//!
//! [`probe`] looks at a file's first bytes and picks the importer (nsys SQLite, or
//! an `.nsys-rep` exported first, or a Kineto JSON trace). Every format implements
//! one trait, [`importer::Importer`], that turns an input into shared records
//! (kernels, memops, NVTX rows, run facts); [`run`] opens every input before
//! writing anything, and the shared [`passes`] alone label steps, attribute,
//! categorise, sum steps and write the tables through a
//! [`Staging`](crate::dataset::Staging) directory, returning a [`Summary`].
//! Inputs of one run are ingested concurrently and one input's kernel chunks in
//! parallel (rayon, `--threads`); every output is independent of the thread count.
//! Each input writes its own `part-<name>` files (named after the input, so separate
//! ingests can write parts of one run).

mod categorize;
mod chunks;
pub mod importer;
mod kineto;
mod nsys;
mod ordered;
mod passes;
mod pipeline;
mod progress;
mod rows;
mod run_facts;
pub mod sanity;
mod stats;
mod steps;
mod summary;
mod survey;
mod tables;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use pipeline::run;
pub use summary::{ShapeCount, Summary};
pub use survey::Survey;

use crate::attribute::Rules;
use crate::error::{Error, Result};

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

/// What kind of file an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An SQLite database (expected to be an nsys export).
    Sqlite,
    /// An Nsight Systems report, to be exported to SQLite first.
    NsysRep,
    /// JSON or gzip: a PyTorch-profiler (Kineto) chrome trace.
    Kineto,
}

/// Identifies an input by its first bytes (and `.nsys-rep` by extension).
pub fn probe(path: &Path) -> Result<InputKind> {
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let n = file.read(&mut head).map_err(|e| Error::io(path, e))?;
    let head = &head[..n];
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(InputKind::Sqlite);
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    if extension == "nsys-rep" || extension == "qdrep" {
        return Ok(InputKind::NsysRep);
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    if head.starts_with(&[0x1f, 0x8b]) || first == Some(&b'{') || first == Some(&b'[') {
        return Ok(InputKind::Kineto);
    }
    if n == 0 {
        return Err(Error::input(path, "file is empty"));
    }
    Err(Error::input(
        path,
        "not an Nsight Systems SQLite export or .nsys-rep report (make one with `nsys export --type sqlite REPORT.nsys-rep`)",
    ))
}
