//! Command-line surface: clap types stay here and become plain configs
//! ([`crate::ingest::IngestConfig`], [`crate::query::QueryConfig`]) before any work.
//! Output goes to stdout, progress and the ingest summary to stderr.

mod capture;
mod cluster;
mod diff;
mod ingest;
mod model;
mod outcome;
mod query;
mod report;

use clap::{Parser, Subcommand};

pub use ingest::IngestArgs;
pub use outcome::Outcome;
pub use query::QueryArgs;

/// Where does the forward pass spend its GPU time? Ingest Nsight Systems traces of
/// LLM inference into Parquet and ask with SQL.
#[derive(Debug, Parser)]
#[command(name = "trace", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the model over the bsz × seq grid (SGLang or HF), optionally under Nsight Systems.
    Capture(capture::CaptureArgs),
    /// Ingest nsys SQLite exports (or .nsys-rep reports) into the Parquet dataset.
    Ingest(IngestArgs),
    /// Run a shipped query (queries/<name>.sql) or ad-hoc SQL over the dataset.
    Query(QueryArgs),
    /// Parameters and FLOPs of a model config (model_conf/<model>/config_<mconf>.json).
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// One self-contained HTML page with plots of where the GPU time goes.
    Report(report::ReportArgs),
    /// Compare two runs per shape, category and kernel; exit 1 on a regression beyond the gate.
    Diff(diff::DiffArgs),
    /// Remove one run from the dataset (a run not wanted, or damaged).
    Remove(RemoveArgs),
    /// Ingest the shipped fixture traces and print kernels-by-phase (the README demo).
    Demo(DemoArgs),
    /// Start an Apache DataFusion Ballista scheduler or executor for `trace query
    /// --cluster` (needs a build with `--features cluster`).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Arguments of `trace remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The run to remove (its id, or its partition key).
    #[arg(long)]
    pub run: String,
    /// Dataset root.
    #[arg(long, default_value = "results/parquet")]
    pub data: std::path::PathBuf,
}

/// Arguments of `trace demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Fixture traces to ingest (one run per file).
    #[arg(long, num_args = 1.., default_values = ["fixtures/nsys/mini.sqlite", "fixtures/nsys/tp2.sqlite"])]
    pub traces: Vec<std::path::PathBuf>,
    /// Dataset root to write.
    #[arg(long, default_value = "results/parquet")]
    pub out: std::path::PathBuf,
}

/// A threshold flag's value: a finite number ≥ 0 (`NaN` or `inf` would make every
/// comparison false and hide a regression).
fn finite_non_negative(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not a finite number >= 0")),
        Err(e) => Err(format!("{raw:?} is not a number ({e})")),
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let done = |r: anyhow::Result<()>| r.map(|()| Outcome::Success);
    match cli.command {
        Command::Capture(args) => done(capture::run(args)),
        Command::Ingest(args) => done(ingest::run(args)),
        Command::Query(args) => done(query::run(args)),
        Command::Remove(args) => {
            let removed = crate::dataset::remove::remove_run(&args.data, &args.run)?;
            crate::say!(
                "removed run {} from {} (tables: {})",
                removed.key,
                args.data.display(),
                removed.tables.join(", ")
            );
            Ok(Outcome::Success)
        }
        Command::Model(command) => done(model::run(command)),
        Command::Report(args) => report::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Demo(args) => done(demo(args)),
        Command::Cluster(command) => done(cluster::run(command)),
    }
}

fn demo(args: DemoArgs) -> anyhow::Result<()> {
    for trace in &args.traces {
        ingest::run(IngestArgs::for_demo(trace.clone(), args.out.clone()))?;
    }
    query::run(QueryArgs::for_demo("kernels-by-phase", args.out.clone()))
}
