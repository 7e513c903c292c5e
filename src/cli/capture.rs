//! `trace capture`: the seed's `scripts/run.sh` flags, plus grid, engine, warm-up,
//! iterations, dry run and nsys location.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::attribute::Rules;
use crate::capture::command::{ModuleRangeSource, Profile};
use crate::capture::{self, CaptureConfig};
use crate::shipped;

/// Arguments of `trace capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Model directory under model_conf/ (e.g. qwen3_moe).
    #[arg(long)]
    pub model: String,
    /// Model config variant: model_conf/<model>/config_<mconf>.json.
    #[arg(long, default_value = "full")]
    pub mconf: String,
    /// Deployment: conf/deploy/<deploy>.yaml (tp1, tp8, tp8ep8, tp8ep8dp8, tp16ep16, …).
    #[arg(long, default_value = "tp1")]
    pub deploy: String,
    /// Base config: conf/<base>.yaml.
    #[arg(long, default_value = "base")]
    pub base: String,
    /// Attention backend: conf/backend/<backend>.yaml (fa3, flashinfer, triton).
    #[arg(long, default_value = "fa3")]
    pub backend: String,
    /// Optional extra arguments: conf/optional/<optional>.yaml.
    #[arg(long, default_value = "default")]
    pub optional: String,
    /// Append results to results/csv/benchmark.csv.
    #[arg(long)]
    pub save: bool,
    /// Profile these phases under Nsight Systems.
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Multi-node: the master node's address (sets dist_init_addr).
    #[arg(long)]
    pub ip: Option<String>,
    /// Multi-node: this node's rank (0 = master).
    #[arg(long, default_value_t = 0)]
    pub rank: u32,
    /// Run id (the `run=` partition); required with --ip, the same on every node:
    /// each node ingests its own report into that run of the shared --results.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Multi-node: the port of dist_init_addr.
    #[arg(long, default_value_t = 30000)]
    pub port: u16,
    /// Grid as `bsz,…;seq,…` (lines separated by `|`); default conf/grid.csv.
    #[arg(long)]
    pub grid: Option<String>,
    /// Engine: sglang (ModelRunner as bench_one_batch builds it) or hf (transformers, random weights).
    #[arg(long, default_value = "sglang", value_parser = ["sglang", "hf"])]
    pub engine: String,
    /// hf engine: decode eagerly instead of replaying a CUDA graph over a static KV cache.
    #[arg(long)]
    pub eager: bool,
    /// Do not emit module ranges (one NVTX range per model-module forward inside the
    /// profiled window, which `trace ingest` uses to attribute kernels to modules).
    #[arg(long, conflicts_with = "engine_markers")]
    pub no_module_ranges: bool,
    /// sglang engine: take module ranges from SGLang's own layer-wise NVTX markers
    /// (`--enable-layerwise-nvtx-marker`: module paths without class names, on every
    /// forward from model load on) instead of the harness's hooks (`module:<name>:<Class>`,
    /// profiled window only). `trace ingest` reads both.
    #[arg(long)]
    pub engine_markers: bool,
    /// SGLang release to compose for (dry run without SGLang) or to expect (real run);
    /// default: the one importable by --python.
    #[arg(long)]
    pub sglang_version: Option<String>,
    /// Untimed forwards per shape (overrides `warmup` in the YAML).
    #[arg(long)]
    pub warmup: Option<u32>,
    /// Timed forwards per shape and phase (overrides `iters` in the YAML).
    #[arg(long)]
    pub iters: Option<u32>,
    /// Print the composed arguments and the exact commands; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// nsys binary (else $TRACE_NSYS, PATH, install dirs).
    #[arg(long)]
    pub nsys: Option<PathBuf>,
    /// Python interpreter that has PyTorch (and SGLang or transformers).
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Config directory (default: ./conf when it exists, else the shipped copy;
    /// `trace init DIR` writes an editable one).
    #[arg(long)]
    pub conf: Option<PathBuf>,
    /// Model config directory (default: ./model_conf when it exists, else the
    /// shipped copy).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    /// Results directory (raw_output/, csv/, <model>_profile/, parquet/).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Dataset root the capture ingests into (default: <results>/parquet).
    #[arg(long, env = "TRACE_DATA")]
    pub data: Option<PathBuf>,
}

/// Runs `trace capture`.
pub fn run(args: CaptureArgs) -> anyhow::Result<()> {
    if args.engine_markers && args.engine != "sglang" {
        return Err(crate::error::Error::Usage(format!(
            "--engine-markers takes SGLang's own layer-wise markers; --engine {} has none (its module ranges come from the harness's hooks)",
            args.engine
        ))
        .into());
    }
    let conf = shipped::path("conf", args.conf.as_deref(), "--conf")?;
    let model_dir = shipped::path("model_conf", args.model_dir.as_deref(), "--model-dir")?;
    let rules_path = conf.join("kernels.yaml");
    let rules = if rules_path.is_file() {
        Rules::load(&rules_path)?
    } else {
        Rules::builtin()?
    };
    let config = CaptureConfig {
        model: args.model,
        mconf: args.mconf,
        base: args.base,
        deploy: args.deploy,
        backend: args.backend,
        optional: Some(args.optional).filter(|o| {
            conf.join("optional").join(format!("{o}.yaml")).is_file() || o != "default"
        }),
        profile: args.profile,
        save: args.save,
        ip: args.ip,
        rank: args.rank,
        run_id: args.run_id,
        port: args.port,
        grid: args.grid,
        engine: args.engine,
        eager: args.eager,
        module_ranges: if args.no_module_ranges {
            ModuleRangeSource::Off
        } else if args.engine_markers {
            ModuleRangeSource::Engine
        } else {
            ModuleRangeSource::Hooks
        },
        sglang_version: args.sglang_version,
        warmup: args.warmup,
        iters: args.iters,
        dry_run: args.dry_run,
        nsys: args.nsys,
        python: args.python,
        conf_dir: conf,
        model_dir,
        dataset_dir: args.data.unwrap_or_else(|| args.results.join("parquet")),
        results_dir: args.results,
        rules,
        progress: std::io::stderr().is_terminal(),
    };
    let mut stdout = crate::console::stdout();
    let outcome = capture::run(&config, &mut stdout)?;
    std::io::Write::flush(&mut stdout)?;
    if !outcome.dry_run {
        crate::say!(
            "capture {}: {} latency row(s) → {}",
            outcome.run_id,
            outcome.latency_rows,
            outcome.run_dir.display()
        );
        if let Some(v) = &outcome.sglang_version {
            crate::say!("capture {}: SGLang {v}", outcome.run_id);
        }
        if let Some(summary) = &outcome.ingest {
            crate::console::say_line(format_args!(
                "{}",
                summary.to_string().trim_end_matches('\n')
            ));
            crate::say!(
                "next: trace query categories-by-shape --run {}",
                outcome.run_id
            );
        }
    }
    Ok(())
}
