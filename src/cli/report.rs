//! `trace report`: arguments and their resolution into a [`ReportConfig`].

use std::path::PathBuf;

use crate::report::{self, ReportConfig};
use crate::vocab::CategoryAxis;

use super::outcome::Outcome;

/// Arguments of `trace report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Runs to show (repeatable); default: every run in the dataset.
    #[arg(long = "run")]
    pub runs: Vec<String>,
    /// Dataset root.
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
    pub data: PathBuf,
    /// The HTML file to write.
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
    /// Add a comparison of NEW against BASE (as `trace diff BASE NEW`).
    #[arg(long, num_args = 2, value_names = ["BASE", "NEW"])]
    pub diff: Option<Vec<String>>,
    /// Gate of the comparison, % (as `trace diff --gate`).
    #[arg(long, default_value_t = 5.0, value_parser = super::finite_non_negative)]
    pub gate: f64,
    /// Group categories by the block each kernel ran in (modules first) or by the
    /// kind of work its name says.
    #[arg(long, value_enum, default_value_t = CategoryAxis::Block)]
    pub by: CategoryAxis,
    /// Floor of the comparison, ms per step (as `trace diff --floor-ms`).
    #[arg(long, default_value_t = 0.005, value_parser = super::finite_non_negative)]
    pub floor_ms: f64,
}

/// Runs `trace report`; the page is written whatever the comparison says.
pub fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    crate::dataset::layout::refuse_output_inside(&args.data, &args.out, "--out")?;
    let diff = args.diff.and_then(|d| match d.as_slice() {
        [base, new] => Some((base.clone(), new.clone())),
        _ => None,
    });
    let config = ReportConfig {
        data_dir: args.data,
        runs: args.runs,
        out: args.out,
        diff,
        gate_pct: args.gate,
        floor_ms: args.floor_ms,
        by: args.by,
    };
    let summary = report::run(&config)?;
    crate::say!(
        "wrote {} ({:.1} KB; runs: {}{})",
        config.out.display(),
        summary.bytes as f64 / 1024.0,
        summary.runs.join(", "),
        match summary.regression {
            Some(true) => "; the comparison shows a regression",
            Some(false) => "; the comparison shows no regression",
            None => "",
        }
    );
    Ok(Outcome::Success)
}
