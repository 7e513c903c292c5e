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
mod setup;

use clap::{Parser, Subcommand};

pub use crate::build_info::version_text;
pub use ingest::IngestArgs;
pub use outcome::Outcome;
pub use query::QueryArgs;

/// Where does the forward pass spend its GPU time? Ingest Nsight Systems traces of
/// LLM inference into Parquet and ask with SQL.
#[derive(Debug, Parser)]
#[command(name = "trace", version = version_text(), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the model over the bsz × seq grid (SGLang or HF), optionally under Nsight Systems.
    Capture(capture::CaptureArgs),
    /// Ingest nsys SQLite exports, .nsys-rep reports or PyTorch-profiler (Kineto) JSON
    /// traces into the Parquet dataset.
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
    /// Compact every run's per-shape summaries into one file, so the shipped queries
    /// over thousands of runs open one file (ingest does it every 32 new runs).
    Compact(CompactArgs),
    /// Ingest the shipped fixture traces and print kernels-by-phase (the README demo).
    Demo(DemoArgs),
    /// Write editable copies of the shipped conf/, model_conf/, queries/ and demo traces.
    Init(setup::InitArgs),
    /// Is this machine ready? nsys, Python and its packages, SGLang facts, GPUs,
    /// dataset; exit 1 when something needed (--for) is missing.
    Doctor(setup::DoctorArgs),
    /// Shell completions on stdout (e.g. `trace completions bash > ~/.local/share/bash-completion/completions/trace`).
    Completions(setup::CompletionsArgs),
    /// The man page (roff) on stdout (e.g. `trace man > ~/.local/share/man/man1/trace.1`).
    Man,
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
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
    pub data: std::path::PathBuf,
}

/// Arguments of `trace compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// Dataset root.
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
    pub data: std::path::PathBuf,
}

/// Arguments of `trace demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Traces to ingest (one run per file); default: fixtures/nsys/{mini,tp2}.sqlite
    /// from the working directory when there, else the copies shipped in the binary.
    #[arg(long, num_args = 1..)]
    pub traces: Option<Vec<std::path::PathBuf>>,
    /// Dataset root to write.
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
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
        Command::Compact(args) => {
            let runtime = crate::query::runtime()?;
            match runtime.block_on(crate::query::rollup::compact(&args.data, None))? {
                Some(done) => crate::say!("{done}"),
                None => crate::say!(
                    "{}: the compacted summaries are up to date (or another process is writing them)",
                    args.data.display()
                ),
            }
            Ok(Outcome::Success)
        }
        Command::Model(command) => done(model::run(command)),
        Command::Report(args) => report::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Demo(args) => done(demo(args)),
        Command::Cluster(command) => done(cluster::run(command)),
        Command::Init(args) => done(setup::init(args)),
        Command::Doctor(args) => setup::doctor(args),
        Command::Completions(args) => done(setup::completions(args)),
        Command::Man => done(setup::man()),
    }
}

/// The demo's traces, shipped in the binary.
const DEMO_TRACES: [&str; 2] = ["fixtures/nsys/mini.sqlite", "fixtures/nsys/tp2.sqlite"];

fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let traces = match args.traces {
        Some(traces) => traces,
        None => DEMO_TRACES
            .iter()
            .map(|rel| crate::shipped::path(rel, None, "--traces"))
            .collect::<Result<_, _>>()?,
    };
    for trace in traces {
        ingest::run(IngestArgs::for_demo(trace, args.out.clone()))?;
    }
    query::run(QueryArgs::for_demo("kernels-by-phase", args.out.clone()))
}
