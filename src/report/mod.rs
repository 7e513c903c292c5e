//! `trace report`: one self-contained HTML page (inline CSS and SVG, no script, no
//! network at view time) showing where the GPU time goes across the grid, for one or
//! more runs, optionally with a [`crate::diff`] comparison.
//!
//! [`rows`] reads the dataset with SQL, [`data`] and [`timeline`] turn it into the
//! numbers behind each section, [`svg`] draws them, [`html`] and [`tables`] lay out the page.
//! Invariants: the page depends only on the dataset; its size is bounded by the grid
//! (shapes × categories) and by [`timeline::MAX_BLOCKS`] per timeline, not by the
//! number of kernels or steps; the file is written under a temporary name and renamed,
//! so a reader never sees half a page.

pub mod data;
pub mod html;
pub mod svg;
pub mod tables;
pub mod timeline;

use std::path::PathBuf;

use crate::diff::{self, Comparison, DiffConfig};
use crate::error::{Error, Result};
use crate::query::reader::Reader;
use crate::vocab::CategoryAxis;
use data::RunData;

/// Rows in the top-kernels and unattributed tables.
pub const TABLE_ROWS: usize = 25;

/// A resolved `trace report` invocation.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    pub data_dir: PathBuf,
    /// Runs to show; empty = every run in the dataset.
    pub runs: Vec<String>,
    pub out: PathBuf,
    /// Compare (base, new) and add the comparison to the page.
    pub diff: Option<(String, String)>,
    pub gate_pct: f64,
    pub floor_ms: f64,
    /// Which category the shape breakdown and the kernel tables show.
    pub by: CategoryAxis,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    pub runs: Vec<String>,
    pub bytes: u64,
    pub regression: Option<bool>,
}

/// Reads every section's numbers for `run`.
pub fn collect(ds: &Reader, run: &str, by: CategoryAxis) -> Result<RunData> {
    Ok(RunData {
        run: run.to_string(),
        by,
        facts: data::facts(ds, run)?,
        shapes: data::shapes(ds, run, by)?,
        utilization: data::utilization(ds, run)?,
        devices: data::devices(ds, run)?,
        skew: data::skew(ds, run)?,
        top_kernels: data::top_kernels(ds, run, by, TABLE_ROWS)?,
        unattributed: data::unattributed_kernels(ds, run, TABLE_ROWS)?,
        evidence: data::evidence(ds, run)?,
        timelines: timeline::timelines(ds, run)?,
    })
}

/// The runs of the dataset, sorted.
pub fn all_runs(ds: &Reader) -> Result<Vec<String>> {
    let rows = ds.ask("report/run-ids", &[])?;
    rows.strings_or_empty("run")
}

/// Builds the page for `config` and writes it to `config.out`.
pub fn run(config: &ReportConfig) -> Result<ReportSummary> {
    let ds = Reader::open(&config.data_dir)?;
    let known = all_runs(&ds)?;
    let mut runs = config.runs.clone();
    if let Some((base, new)) = &config.diff {
        for r in [base, new] {
            if !runs.contains(r) {
                runs.push(r.clone());
            }
        }
    }
    if runs.is_empty() {
        runs = known.clone();
    }
    if runs.is_empty() {
        return Err(Error::Usage(format!(
            "no runs in {}: ingest a trace first (trace ingest REPORT.sqlite --out {})",
            config.data_dir.display(),
            config.data_dir.display()
        )));
    }
    for r in &runs {
        if !known.contains(r) {
            return Err(Error::Usage(format!(
                "no run {r:?} in {}; runs: {}",
                config.data_dir.display(),
                known.join(", ")
            )));
        }
    }
    let data: Vec<RunData> = runs
        .iter()
        .map(|r| collect(&ds, r, config.by))
        .collect::<Result<_>>()?;
    let comparison: Option<Comparison> = match &config.diff {
        Some((base, new)) => Some(diff::compare(
            &ds,
            &DiffConfig {
                data_dir: config.data_dir.clone(),
                base: base.clone(),
                new: new.clone(),
                gate_pct: config.gate_pct,
                floor_ms: config.floor_ms,
            },
        )?),
        None => None,
    };
    let page = html::page(&data, comparison.as_ref());
    write_atomically(&config.out, page.as_bytes())?;
    Ok(ReportSummary {
        runs,
        bytes: page.len() as u64,
        regression: comparison.map(|c| c.regressions().next().is_some()),
    })
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .ok_or_else(|| Error::Usage(format!("--out {} is not a file name", path.display())))?;
    let partial = path.with_file_name(format!(".{name}.partial"));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(&partial, bytes).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        Error::io(path, e)
    })
}
