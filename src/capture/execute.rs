//! Running a planned capture: the run directory (model config, every embedded
//! harness file, server arguments), the harness under nsys or not with its log and
//! progress, then the `latency` table, export + ingest + validation of a profiled
//! run, and `benchmark.csv` with `--save`.
//!
//! Invariants: a dry run writes nothing; a failed or interrupted harness is an error
//! carrying the tail of the run log; grid points the harness skipped are reported
//! and left out of validation.

use std::path::Path;
use std::time::Instant;

use super::command::{nsys_profile_argv, shell_words};
use super::config::{CaptureConfig, CaptureOutcome, HARNESS_FILES};
use super::grid::Point;
use super::plan::{compose_plan, describe, plan};
use super::results::{self, RunLabels};
use super::runner;
use super::validate;
use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::ingest::{self, IngestConfig, RunMeta};
use crate::nsys_tool;

/// One harness file to write into the run directory.
struct HarnessFile {
    name: &'static str,
    text: String,
    /// Says where an overridden file came from.
    note: Option<String>,
}

/// The harness files to write into the run directory: the embedded ones, or with
/// `TRACE_HARNESS_DIR` set, the `.py` files of that directory (a patched harness
/// without a rebuild; `sglang_api.json` stays the embedded one, since the flag
/// checks above used it). Each overridden file comes with a note saying so.
fn harness_files() -> Result<Vec<HarnessFile>> {
    let dir = std::env::var_os("TRACE_HARNESS_DIR").map(std::path::PathBuf::from);
    HARNESS_FILES
        .iter()
        .map(|(name, text)| match &dir {
            Some(dir) if name.ends_with(".py") => {
                let path = dir.join(name);
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let note = format!("TRACE_HARNESS_DIR: harness file {}", path.display());
                Ok(HarnessFile {
                    name,
                    text,
                    note: Some(note),
                })
            }
            _ => Ok(HarnessFile {
                name,
                text: text.to_string(),
                note: None,
            }),
        })
        .collect()
}

/// Runs a capture.
pub fn run(cfg: &CaptureConfig, out: &mut dyn std::io::Write) -> Result<CaptureOutcome> {
    if cfg.dry_run {
        let plan = plan(cfg)?;
        describe(cfg, &plan, out).map_err(|e| Error::io("<stdout>", e))?;
        return Ok(CaptureOutcome {
            run_id: plan.run_id,
            run_dir: plan.run_dir,
            latency_rows: 0,
            ingest: None,
            dry_run: true,
            sglang_version: plan.sglang.map(|t| t.version),
        });
    }
    let profile = compose_plan(cfg)?.profile;
    let nsys = match profile {
        Some(_) => Some(nsys_tool::find(cfg.nsys.as_deref())?),
        None => None,
    };
    check_python(&cfg.python)?;
    let plan = plan(cfg)?;
    for note in &plan.notes {
        crate::say!("note: {note}");
    }

    let model_dir = &plan.harness.model_dir;
    std::fs::create_dir_all(model_dir).map_err(|e| Error::io(model_dir, e))?;
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| Error::io(to, e))
    };
    copy(&plan.model_config, &model_dir.join("config.json"))?;
    if let Some(source_dir) = plan.model_config.parent() {
        for extra in [
            "tokenizer.json",
            "tokenizer_config.json",
            "generation_config.json",
        ] {
            if source_dir.join(extra).is_file() {
                copy(&source_dir.join(extra), &model_dir.join(extra))?;
            }
        }
    }
    let write =
        |path: &Path, text: &str| std::fs::write(path, text).map_err(|e| Error::io(path, e));
    for file in harness_files()? {
        if let Some(note) = &file.note {
            crate::say!("note: {note}");
        }
        write(&plan.run_dir.join(file.name), &file.text)?;
    }
    let flags = serde_json::to_string_pretty(&plan.composed.sglang_flags()?).unwrap_or_default();
    write(&plan.harness.server_args_file, &flags)?;
    let raw = cfg.results_dir.join("raw_output");
    std::fs::create_dir_all(&raw).map_err(|e| Error::io(&raw, e))?;
    // One log per node: `<run>.log`, or `<run>-node<rank>.log` multi-node.
    let node = plan.report_stem.strip_prefix("report").unwrap_or_default();
    let log = raw.join(format!(
        "{}{node}.log",
        crate::dataset::partition_key(&plan.run_id)?
    ));

    let report = plan.run_dir.join(&plan.report_stem);
    let argv = match &nsys {
        Some(nsys) => nsys_profile_argv(nsys, &report, &plan.harness.argv()),
        None => plan.harness.argv(),
    };
    let mut header = format!("$ {}\n", shell_words(&argv));
    if let Some(t) = &plan.sglang {
        header.push_str(&format!(
            "# SGLang {} (flags checked against the {} flag set)\n",
            t.version, t.facts.version
        ));
    }
    for note in &plan.notes {
        header.push_str(&format!("# note: {note}\n"));
    }
    write(&log, &header)?;
    crate::say!(
        "capture {}: {} grid point(s), log {}",
        plan.run_id,
        plan.points.len(),
        log.display()
    );
    let started = Instant::now();
    let progress = progress_bar(cfg.progress);
    let status = runner::run_logged(
        &argv,
        &log,
        &[("PYTHONUNBUFFERED".into(), "1".into())],
        |event| report_event(&progress, event, started),
    )?;
    progress.finish_and_clear();
    if runner::interrupted() {
        return Err(Error::Tool(format!(
            "interrupted after {:.0} s; the harness stopped and nsys wrote what it had ({}); log {}",
            started.elapsed().as_secs_f64(),
            plan.run_dir.display(),
            log.display()
        )));
    }
    if !status.success() {
        return Err(Error::Tool(format!(
            "the capture failed ({status}); last lines of {}:\n{}",
            log.display(),
            runner::tail(&log, 25)
        )));
    }

    let (rows, skipped) = results::read_latency(&plan.harness.latency_out)?;
    for s in &skipped {
        crate::say!(
            "skipped: {} bsz={} seq={} on rank {}: {}",
            s.phase,
            s.bsz,
            s.seq,
            s.rank,
            s.skipped
        );
    }
    let measured: Vec<Point> = plan
        .points
        .iter()
        .filter(|p| !skipped.iter().any(|s| s.bsz == p.bsz && s.seq == p.seq))
        .copied()
        .collect();
    let parquet = cfg.dataset_dir.clone();
    // Each node owns its latency part too (`latency`, or `latency-node<rank>`).
    let latency_part = plan.report_stem.replacen("report", "latency", 1);
    results::write_latency_table(&parquet, &plan.run_id, &latency_part, &rows)?;
    let arch = Arch::load(&plan.model_config).ok();
    let mut summary = None;
    if let Some(nsys) = &nsys {
        let rep = nsys_tool::finish_report(nsys, &report)?;
        let kind = nsys_tool::preferred_export(nsys);
        let sqlite = plan
            .run_dir
            .join(format!("{}.{}", plan.report_stem, kind.name()));
        nsys_tool::export_to(nsys, &rep, &sqlite, kind)?;
        let ingest_cfg = IngestConfig {
            inputs: vec![sqlite.clone()],
            run_id: Some(plan.run_id.clone()),
            rules: cfg.rules.clone(),
            out_dir: parquet.clone(),
            nsys: Some(nsys.clone()),
            progress: cfg.progress,
            meta: RunMeta {
                model: Some(cfg.model.clone()),
                mconf: Some(cfg.mconf.clone()),
                deploy: Some(cfg.deploy.clone()),
                backend: attention_backend(cfg, &log),
                engine: Some(cfg.engine.clone()),
                sglang_version: plan.sglang.as_ref().map(|t| t.version.clone()),
                rank: None,
            },
            arch: arch.clone(),
        };
        let ingested = ingest::run(&ingest_cfg)?;
        if let Some(profile) = plan.profile {
            let steps_per_shape = u64::from(plan.iters) * u64::from(plan.local_ranks);
            validate::validate(
                &ingested,
                &measured,
                profile.phases(),
                steps_per_shape,
                &sqlite,
            )?;
        }
        summary = Some(ingested);
    }
    if cfg.save {
        let labels = RunLabels {
            model: cfg.model.clone(),
            mconf: cfg.mconf.clone(),
            base: cfg.base.clone(),
            deploy: cfg.deploy.clone(),
            backend: attention_backend(cfg, &log).unwrap_or_default(),
            engine: cfg.engine.clone(),
            run_id: plan.run_id.clone(),
        };
        let gpu_name = harness_env(&log, "gpu");
        let csv = cfg.results_dir.join("csv").join("benchmark.csv");
        let unknown_phase = results::append_csv(
            &csv,
            &labels,
            &rows,
            arch.as_ref(),
            gpu_name.as_deref(),
            plan.tp_size,
        )?;
        if unknown_phase > 0 {
            crate::say!(
                "note: {unknown_phase} benchmark.csv row(s) have a phase other than prefill/decode: no tflops/mfu for them"
            );
        }
    }
    Ok(CaptureOutcome {
        run_id: plan.run_id,
        run_dir: plan.run_dir,
        latency_rows: rows.len(),
        ingest: summary,
        dry_run: false,
        sglang_version: plan.sglang.map(|t| t.version),
    })
}

/// The GPU name the harness reported in its `env` event.
/// A field of the harness's `env` event (`gpu`, `attention`) from its log.
fn harness_env(log: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter_map(|l| l.strip_prefix("TRACE "))
        .filter_map(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        .find(|v| v["event"] == "env")
        .and_then(|v| v[key].as_str().map(String::from))
}

/// The attention backend a run used: the backend YAML's for SGLang; for the hf engine
/// (which the YAML does not configure) what transformers chose, as the harness saw it.
fn attention_backend(cfg: &CaptureConfig, log: &Path) -> Option<String> {
    if cfg.engine == "hf" {
        harness_env(log, "attention")
    } else {
        Some(cfg.backend.clone())
    }
}

fn check_python(python: &Path) -> Result<()> {
    let ok = std::process::Command::new(python)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(Error::Tool(format!(
            "cannot run Python ({}); install Python 3 with PyTorch (and SGLang or transformers), or pass --python /path/to/python",
            python.display()
        )))
    }
}

fn progress_bar(show: bool) -> indicatif::ProgressBar {
    let bar = if show {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

fn report_event(bar: &indicatif::ProgressBar, event: &serde_json::Value, started: Instant) {
    let kind = event["event"].as_str().unwrap_or_default();
    let text = match kind {
        "env" => format!(
            "GPU {} ×{}, torch {}",
            event["gpu"], event["gpus"], event["torch"]
        ),
        "warmup" | "block" => {
            let (i, n) = (
                event["index"].as_u64().unwrap_or(0),
                event["total"].as_u64().unwrap_or(0),
            );
            if kind == "block" {
                bar.set_length(n);
                bar.set_position(i.saturating_sub(1));
            }
            let phase = event["phase"].as_str().unwrap_or("warm-up");
            format!(
                "{kind} {i}/{n}: {phase} bsz={} seq={}",
                event["bsz"], event["seq"]
            )
        }
        "sglang" => format!("SGLang {}", event["version"].as_str().unwrap_or("?")),
        "ranks" => format!(
            "{} rank process(es) started",
            event["pids"].as_array().map_or(0, Vec::len)
        ),
        "skip" => format!(
            "skipped bsz={} seq={}: {}",
            event["bsz"],
            event["seq"],
            event["reason"].as_str().unwrap_or("?")
        ),
        "done" => "harness done".into(),
        other => other.to_string(),
    };
    if bar.is_hidden() {
        crate::say!("[{:>7.1} s] {text}", started.elapsed().as_secs_f64());
    } else {
        bar.set_message(text);
    }
}
