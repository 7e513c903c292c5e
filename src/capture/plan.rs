//! The capture plan: everything a capture will do, composed and checked before
//! anything runs. `trace capture --dry-run` prints it ([`describe`]); a real run
//! executes it (`execute`).
//!
//! Invariants of a [`Plan`] from [`plan`]: the config files and the grid parse and
//! the model config file exists; `iters` and `rank_timeout_s` are at least 1; a multi-node
//! capture (`--ip`) has an explicit run id and per-node `run_dir`/`report_stem`;
//! the hf engine runs on one node with `ep_size` 1 or `tp_size`; for the SGLang
//! engine the flags are fitted to the resolved release (`sglang` is `Some`).

use std::path::{Path, PathBuf};

use super::command::{nsys_profile_argv, shell_words, HarnessCommand, HfLayout, Profile};
use super::compose::Composed;
use super::config::{timestamp, CaptureConfig};
use super::grid::{self, Point};
use super::version;
use crate::arch::config::config_path;
use crate::error::{Error, Result};
use crate::nsys_tool::nsys_export_argv;

fn config_file(dir: &Path, name: &str, what: &str) -> Result<PathBuf> {
    let path = dir.join(format!("{name}.yaml"));
    if path.is_file() {
        return Ok(path);
    }
    let mut known: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".yaml")
                        .map(String::from)
                })
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    Err(Error::Usage(format!(
        "no {what} config {}; available: {} (--conf points at another config folder; `trace init DIR` writes an editable copy of the shipped one)",
        path.display(),
        if known.is_empty() {
            "(none)".into()
        } else {
            known.join(", ")
        }
    )))
}

/// The hf engine's layout from the deploy YAML: `tp_size` ranks on this one node, expert
/// parallel over all of them when `ep_size > 1` (transformers shards experts over the
/// whole tensor-parallel group, so `ep_size` must equal `tp_size`).
fn hf_layout(cfg: &CaptureConfig, composed: &Composed, tp_size: u32) -> Result<HfLayout> {
    if cfg.ip.is_some() {
        return Err(Error::Usage(
            "the hf engine runs on one node; --ip/--rank need --engine sglang".into(),
        ));
    }
    let ep_size = composed.get_u32("ep_size", 1)?;
    if ep_size > 1 && ep_size != tp_size {
        return Err(Error::Usage(format!(
            "deploy {} sets ep_size {ep_size} and tp_size {tp_size}: the hf engine shards experts over all tensor-parallel ranks, so ep_size must be 1 or {tp_size}",
            cfg.deploy
        )));
    }
    Ok(HfLayout {
        tp_size,
        ep_size,
        eager: cfg.eager,
    })
}

/// A composed, checked plan for one capture.
pub struct Plan {
    pub composed: Composed,
    pub points: Vec<Point>,
    pub profile: Option<Profile>,
    pub warmup: u32,
    pub iters: u32,
    pub run_id: String,
    /// This node's directory: `<results>/<model>_profile/<run>` (`…/<run>/node<rank>`
    /// for a multi-node capture, so nodes sharing `--results` never share a file).
    pub run_dir: PathBuf,
    /// Stem of the report files and name of this capture's parts of the run:
    /// `report` (`report-node<rank>` multi-node), so each node's ingest owns its part.
    pub report_stem: String,
    pub harness: HarnessCommand,
    pub model_config: PathBuf,
    pub tp_size: u32,
    /// Ranks this node runs (`tp_size / nnodes`): each labels its own steps.
    pub local_ranks: u32,
    /// The SGLang release the flags were checked against (`None` for the hf engine).
    pub sglang: Option<version::Target>,
    /// One line per translated, raised or deprecated flag.
    pub notes: Vec<String>,
}

/// Composes configs, grid and commands without running anything, and (for the
/// SGLang engine) fits the flags to the release that will run ([`version::resolve`]).
pub fn plan(cfg: &CaptureConfig) -> Result<Plan> {
    let mut plan = compose_plan(cfg)?;
    if cfg.engine == "sglang" {
        let target = version::resolve(
            cfg.sglang_version.as_deref(),
            &cfg.python,
            cfg.dry_run,
            &mut plan.notes,
        )?;
        let max_bsz = plan.points.iter().map(|p| p.bsz).max().unwrap_or(1);
        let notes = version::fit(&mut plan.composed, max_bsz, &target)?;
        plan.notes.extend(notes);
        plan.sglang = Some(target);
    }
    Ok(plan)
}

pub(super) fn compose_plan(cfg: &CaptureConfig) -> Result<Plan> {
    let conf = &cfg.conf_dir;
    let mut files = vec![
        config_file(conf, &cfg.base, "base")?,
        config_file(&conf.join("deploy"), &cfg.deploy, "deploy")?,
        config_file(&conf.join("backend"), &cfg.backend, "backend")?,
    ];
    if let Some(optional) = &cfg.optional {
        files.push(config_file(&conf.join("optional"), optional, "optional")?);
    }
    let mut composed = Composed::load(&files)?;
    let model_config = config_path(&cfg.model_dir, &cfg.model, &cfg.mconf);
    if !model_config.is_file() {
        return Err(Error::Usage(format!(
            "no model config {}: add model_conf/{}/config_{}.json (see model_conf/README.md), or point --model-dir at a folder that has it",
            model_config.display(),
            cfg.model,
            cfg.mconf
        )));
    }
    let grid_origin = PathBuf::from(if cfg.grid.is_some() {
        "--grid"
    } else {
        "conf/grid.csv"
    });
    let grid_text = match &cfg.grid {
        Some(spec) => spec.replace('|', "\n"),
        None => {
            let path = conf.join("grid.csv");
            std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?
        }
    };
    let points = grid::parse(&grid_text, &grid_origin)?;
    let profile = match cfg.profile {
        Some(p) => Some(p),
        None => match composed.get("profile_phase").and_then(|v| v.as_str()) {
            None => None,
            Some(value) => Some(Profile::parse(value).ok_or_else(|| {
                Error::Usage(format!(
                    "profile_phase: {value:?} is not prefill, decode or both"
                ))
            })?),
        },
    };
    let warmup = match cfg.warmup {
        Some(n) => n,
        None => composed.get_u32("warmup", 2)?,
    };
    let iters = match cfg.iters {
        Some(n) => n,
        None => composed.get_u32("iters", 5)?,
    };
    if iters == 0 {
        return Err(Error::Usage("iters must be at least 1".into()));
    }
    let tp_size = composed.get_u32("tp_size", 1)?;
    let rank_timeout_s = composed.get_u32("rank_timeout_s", 3600)?;
    if rank_timeout_s == 0 {
        return Err(Error::Usage("rank_timeout_s must be at least 1".into()));
    }
    let local_ranks = (tp_size / composed.get_u32("nnodes", 1)?.max(1)).max(1);
    let hf = if cfg.engine == "hf" {
        Some(hf_layout(cfg, &composed, tp_size)?)
    } else {
        None
    };
    let run_id = match (&cfg.run_id, &cfg.ip) {
        (Some(id), _) => id.clone(),
        (None, Some(_)) => {
            return Err(Error::Usage(
                "a multi-node capture (--ip) needs --run-id NAME, the same on every node, \
                 so that every node's report lands in one run"
                    .into(),
            ))
        }
        // The backend YAML configures SGLang's attention only; an hf run's id does
        // not claim it (its backend is what transformers chose, recorded at ingest).
        (None, None) if cfg.engine == "hf" => format!(
            "{}-{}-{}-hf-{}",
            cfg.model,
            cfg.mconf,
            cfg.deploy,
            timestamp()
        ),
        (None, None) => format!(
            "{}-{}-{}-{}-{}-{}",
            cfg.model,
            cfg.mconf,
            cfg.deploy,
            cfg.backend,
            cfg.engine,
            timestamp()
        ),
    };
    let mut run_dir = cfg
        .results_dir
        .join(format!("{}_profile", cfg.model))
        .join(crate::dataset::partition_key(&run_id)?);
    let mut report_stem = "report".to_string();
    if cfg.ip.is_some() {
        run_dir = run_dir.join(format!("node{}", cfg.rank));
        report_stem = format!("report-node{}", cfg.rank);
    }
    let model_dir = run_dir.join("model");
    let origin = Path::new("trace capture");
    composed.set(
        "model",
        serde_yaml_ng::Value::String(model_dir.display().to_string()),
        origin,
        None,
    );
    if let Some(ip) = &cfg.ip {
        composed.set(
            "dist_init_addr",
            serde_yaml_ng::Value::String(format!("{ip}:{}", cfg.port)),
            origin,
            None,
        );
        composed.set(
            "node_rank",
            serde_yaml_ng::Value::Number(cfg.rank.into()),
            origin,
            None,
        );
    }
    let harness = HarnessCommand {
        python: cfg.python.clone(),
        script: run_dir.join("trace_harness.py"),
        engine: cfg.engine.clone(),
        model_dir,
        grid_spec: grid::to_spec(&points),
        warmup,
        iters,
        profile,
        latency_out: run_dir.join("latency.jsonl"),
        server_args_file: run_dir.join("server_args.json"),
        rank_timeout_s,
        module_ranges: cfg.module_ranges,
        hf,
    };
    Ok(Plan {
        composed,
        points,
        profile,
        warmup,
        iters,
        run_id,
        run_dir,
        report_stem,
        harness,
        model_config,
        tp_size,
        local_ranks,
        sglang: None,
        notes: Vec::new(),
    })
}

/// Prints what a capture would do.
pub fn describe(
    cfg: &CaptureConfig,
    plan: &Plan,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(out, "# run {}", plan.run_id)?;
    writeln!(out, "# composed configuration (key = value  <- file:line)")?;
    for e in &plan.composed.entries {
        let value = serde_json::to_string(&e.value).unwrap_or_default();
        let line = e.line.map(|l| format!(":{l}")).unwrap_or_default();
        writeln!(
            out,
            "#   {} = {value}  <- {}{line}",
            e.key,
            e.file.display()
        )?;
    }
    for note in &plan.notes {
        writeln!(out, "# note: {note}")?;
    }
    match &plan.sglang {
        Some(t) => writeln!(
            out,
            "# SGLang {} ({}) server arguments, checked against the {} flag set",
            t.version, t.source, t.facts.version
        )?,
        None if plan.harness.hf.is_some() => writeln!(
            out,
            "# server arguments as SGLang would get them (the hf engine reads only its layout: --tp-size/--ep-size below)"
        )?,
        None => writeln!(out, "# SGLang server arguments")?,
    }
    let flags = plan
        .composed
        .sglang_flags()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    writeln!(out, "{}", shell_words(&flags))?;
    let points: Vec<String> = plan
        .points
        .iter()
        .map(|p| format!("{}x{}", p.bsz, p.seq))
        .collect();
    writeln!(out, "# grid (bsz x seq): {}", points.join(" "))?;
    writeln!(
        out,
        "# warmup {} iters {} profile {}",
        plan.warmup,
        plan.iters,
        plan.profile.map_or("none", Profile::as_str)
    )?;
    let harness = plan.harness.argv();
    match plan.profile {
        Some(_) => {
            let nsys = cfg.nsys.clone().unwrap_or_else(|| PathBuf::from("nsys"));
            let report = plan.run_dir.join(&plan.report_stem);
            writeln!(
                out,
                "{}",
                shell_words(&nsys_profile_argv(&nsys, &report, &harness))
            )?;
            let rep = plan.run_dir.join(format!("{}.nsys-rep", plan.report_stem));
            writeln!(
                out,
                "{}",
                shell_words(&{
                    let kind = crate::nsys_tool::preferred_export(&nsys);
                    let out = plan
                        .run_dir
                        .join(format!("{}.{}", plan.report_stem, kind.name()));
                    nsys_export_argv(&nsys, &rep, &out, kind)
                })
            )?;
        }
        None => writeln!(out, "{}", shell_words(&harness))?,
    }
    Ok(())
}
