//! `trace diff`: arguments, the comparison, and its outcome (regression or not) for
//! `main` to turn into the exit code.

use std::io::Write;
use std::path::PathBuf;

use crate::diff::output::{self, DiffFormat};
use crate::diff::{self, DiffConfig};

use super::outcome::Outcome;

/// Arguments of `trace diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The baseline run id.
    pub base: String,
    /// The run to check against the baseline.
    pub new: String,
    /// Dataset root.
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
    pub data: PathBuf,
    /// A row regresses when it is this many % slower (and slower beyond noise).
    #[arg(long, default_value_t = 5.0, value_parser = super::finite_non_negative)]
    pub gate: f64,
    /// …and at least this many ms per step slower (ignores tiny absolute changes).
    #[arg(long, default_value_t = 0.005, value_parser = super::finite_non_negative)]
    pub floor_ms: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    pub format: DiffFormat,
}

/// Runs `trace diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<Outcome> {
    let config = DiffConfig {
        data_dir: args.data,
        base: args.base,
        new: args.new,
        gate_pct: args.gate,
        floor_ms: args.floor_ms,
    };
    let comparison = diff::run(&config)?;
    let mut out = crate::console::stdout();
    output::write(&comparison, args.format, &mut out, &mut std::io::stderr())?;
    out.flush()?;
    Ok(if comparison.regressions().next().is_some() {
        Outcome::Regression
    } else {
        Outcome::Success
    })
}
