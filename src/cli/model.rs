//! `trace model params|flops`: model accounting from `model_conf/`.

use std::io::Write;
use std::path::PathBuf;

use crate::arch::config::{config_path, Arch};
use crate::arch::flops::{self, Forward, MlaPath, Phase};
use crate::arch::params;
use crate::shipped;

/// Output format of `trace model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelFormat {
    Table,
    Json,
}

/// Which config to read.
#[derive(Debug, clap::Args)]
pub struct ModelSelect {
    /// Model directory name under --model-dir (e.g. qwen3_moe).
    #[arg(long)]
    pub model: String,
    /// Config variant: reads config_<mconf>.json (e.g. full, 2l).
    #[arg(long, default_value = "full")]
    pub mconf: String,
    /// Where model configs live (default: ./model_conf when it exists, else the
    /// shipped copy).
    #[arg(long)]
    pub model_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ModelFormat::Table)]
    pub format: ModelFormat,
}

impl ModelSelect {
    fn load(&self) -> anyhow::Result<Arch> {
        let dir = shipped::path("model_conf", self.model_dir.as_deref(), "--model-dir")?;
        let path = config_path(&dir, &self.model, &self.mconf);
        if !path.is_file() {
            return Err(crate::Error::Usage(format!(
                "no model config {} (models there: {}); --model-dir points at another folder",
                path.display(),
                crate::arch::config::models_in(&dir).join(", ")
            ))
            .into());
        }
        Ok(Arch::load(&path)?)
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Parameters by component, and active parameters per token for MoE.
    Params(ModelSelect),
    /// Forward FLOPs by component for one shape, and bytes read.
    Flops {
        #[command(flatten)]
        select: ModelSelect,
        #[arg(long, value_enum)]
        phase: Phase,
        #[arg(long)]
        bsz: u64,
        /// Prefill: new tokens per sequence. Decode: context length.
        #[arg(long)]
        seq: u64,
        /// MLA path (default: mha for prefill, absorbed for decode).
        #[arg(long, value_enum)]
        mla: Option<MlaPath>,
    },
}

fn billions(n: u64) -> String {
    format!("{:.3} B", n as f64 / 1e9)
}

/// Runs `trace model …`.
pub fn run(command: ModelCommand) -> anyhow::Result<()> {
    let mut out = crate::console::stdout();
    match command {
        ModelCommand::Params(select) => {
            let arch = select.load()?;
            let count = params::count(&arch);
            match select.format {
                ModelFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&count)?)?,
                ModelFormat::Table => {
                    writeln!(
                        out,
                        "{} ({}, {} layers)",
                        select.model, arch.model_type, arch.layers
                    )?;
                    for (name, n) in &count.components {
                        let share = 100.0 * *n as f64 / count.total as f64;
                        writeln!(
                            out,
                            "  {name:<16} {n:>16}  {:>11}  {share:5.1}%",
                            billions(*n)
                        )?;
                    }
                    writeln!(
                        out,
                        "  {:<16} {:>16}  {:>11}",
                        "total",
                        count.total,
                        billions(count.total)
                    )?;
                    if arch.moe.is_some() {
                        writeln!(
                            out,
                            "  {:<16} {:>16}  {:>11}  (per token)",
                            "active",
                            count.active,
                            billions(count.active)
                        )?;
                    }
                }
            }
        }
        ModelCommand::Flops {
            select,
            phase,
            bsz,
            seq,
            mla,
        } => {
            let arch = select.load()?;
            let count = flops::count(&arch, Forward { phase, bsz, seq }, mla);
            match select.format {
                ModelFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&count)?)?,
                ModelFormat::Table => {
                    writeln!(
                        out,
                        "{} {} bsz={bsz} seq={seq}",
                        select.model,
                        phase.as_str()
                    )?;
                    for (name, n) in &count.components {
                        let share = 100.0 * *n as f64 / count.total.max(1) as f64;
                        writeln!(
                            out,
                            "  {name:<18} {:>14.4} GFLOP  {share:5.1}%",
                            *n as f64 / 1e9
                        )?;
                    }
                    writeln!(
                        out,
                        "  {:<18} {:>14.4} GFLOP",
                        "total",
                        count.total as f64 / 1e9
                    )?;
                    writeln!(
                        out,
                        "  weights read       {:>14.4} GB",
                        count.weight_bytes as f64 / 1e9
                    )?;
                    writeln!(
                        out,
                        "  KV cache read      {:>14.4} GB",
                        count.kv_bytes as f64 / 1e9
                    )?;
                    writeln!(out, "  convention: {}", count.attention_convention)?;
                    if let Some(path) = count.mla_path {
                        writeln!(out, "  MLA path: {path:?}")?;
                    }
                }
            }
        }
    }
    Ok(())
}
