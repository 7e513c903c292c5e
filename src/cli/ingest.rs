//! `trace ingest`: arguments and their resolution into an [`IngestConfig`].

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

use crate::arch::config::{config_path, Arch};
use crate::attribute::Rules;
use crate::ingest::{self, IngestConfig, RunMeta};
use crate::shipped;

/// Arguments of `trace ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// nsys SQLite exports, .nsys-rep reports (exported with nsys first), or
    /// PyTorch-profiler / Kineto JSON traces (`.json` or `.json.gz`, NVIDIA or ROCm);
    /// several files form one run (e.g. one per rank).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Run id (the `run=` partition); defaults to the first input's file stem.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Kernel category rules; defaults to conf/kernels.yaml if present, else the
    /// built-in copy of it.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Dataset root.
    #[arg(long, env = "TRACE_DATA", default_value = "results/parquet")]
    pub out: PathBuf,
    /// nsys binary for exporting .nsys-rep inputs (else $TRACE_NSYS, PATH, install dirs).
    #[arg(long)]
    pub nsys: Option<PathBuf>,
    /// Worker threads, 1–512 (default: all cores; more than the cores only adds
    /// switching).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub threads: Option<u16>,
    /// Never draw progress bars (they are drawn only on a terminal anyway).
    #[arg(long)]
    pub quiet: bool,
    /// Model name recorded in the runs table; with --mconf and a config at
    /// <model-dir>/<model>/config_<mconf>.json, also writes the model_flops table.
    #[arg(long)]
    pub model: Option<String>,
    /// Model config variant (config_<mconf>.json).
    #[arg(long)]
    pub mconf: Option<String>,
    /// Where model configs live (default: ./model_conf when it exists, else the
    /// shipped copy).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Deployment recorded in the runs table.
    #[arg(long)]
    pub deploy: Option<String>,
    /// Attention backend recorded in the runs table.
    #[arg(long)]
    pub backend: Option<String>,
    /// Engine recorded in the runs table (sglang, hf).
    #[arg(long)]
    pub engine: Option<String>,
    /// Rank of a single PyTorch-profiler trace whose distributed info and file name
    /// carry none.
    #[arg(long)]
    pub rank: Option<i64>,
}

impl IngestArgs {
    /// The arguments `trace demo` uses for one fixture.
    pub fn for_demo(input: PathBuf, out: PathBuf) -> Self {
        IngestArgs {
            inputs: vec![input],
            run_id: None,
            rules: None,
            out,
            nsys: None,
            threads: None,
            quiet: false,
            model: None,
            mconf: None,
            model_dir: None,
            deploy: None,
            backend: None,
            engine: None,
            rank: None,
        }
    }

    /// Resolves the arguments into a config (loads the rules).
    pub fn into_config(self) -> anyhow::Result<IngestConfig> {
        let default_rules = PathBuf::from("conf/kernels.yaml");
        let rules = match &self.rules {
            Some(path) => Rules::load(path)?,
            None if default_rules.is_file() => Rules::load(&default_rules)?,
            None => Rules::builtin()?,
        };
        let arch = match (&self.model, &self.mconf) {
            (Some(model), Some(mconf)) => {
                let dir = shipped::path("model_conf", self.model_dir.as_deref(), "--model-dir")?;
                let path = config_path(&dir, model, mconf);
                if path.is_file() {
                    Some(Arch::load(&path)?)
                } else {
                    crate::say!(
                        "note: no model config at {}; model_flops is not written (--model-dir points at another folder)",
                        path.display()
                    );
                    None
                }
            }
            _ => None,
        };
        Ok(IngestConfig {
            arch,
            inputs: self.inputs,
            run_id: self.run_id,
            rules,
            out_dir: self.out,
            nsys: self.nsys,
            progress: !self.quiet && std::io::stderr().is_terminal(),
            meta: RunMeta {
                model: self.model,
                mconf: self.mconf,
                deploy: self.deploy,
                backend: self.backend,
                engine: self.engine,
                sglang_version: None,
                rank: self.rank,
            },
        })
    }
}

/// Runs `trace ingest` and prints the summary to stderr.
pub fn run(args: IngestArgs) -> anyhow::Result<()> {
    let threads = args.threads;
    let config = args.into_config()?;
    let summary = match threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .build()
            .context("starting worker threads")?
            .install(|| ingest::run(&config))?,
        None => ingest::run(&config)?,
    };
    crate::console::say_line(format_args!(
        "{}",
        summary.to_string().trim_end_matches('\n')
    ));
    compact_after_ingest(&config.out_dir);
    Ok(())
}

/// Compacts the dataset's summaries once enough runs are not in them
/// ([`crate::query::rollup::COMPACT_AFTER`], or `TRACE_COMPACT_AFTER`; 0: never).
/// The ingest has committed: a failure here only costs queries speed, so it is a
/// warning.
fn compact_after_ingest(root: &std::path::Path) {
    let threshold = std::env::var("TRACE_COMPACT_AFTER")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(crate::query::rollup::COMPACT_AFTER);
    if threshold == 0 {
        return;
    }
    let outcome = crate::query::runtime()
        .and_then(|rt| rt.block_on(crate::query::rollup::compact(root, Some(threshold))));
    match outcome {
        Ok(Some(done)) => crate::console::say_line(format_args!("{done}")),
        Ok(None) => {}
        Err(e) => crate::console::say_line(format_args!(
            "warning: compacting the summaries failed ({e}); queries read each run's files until `trace compact` succeeds"
        )),
    }
}
