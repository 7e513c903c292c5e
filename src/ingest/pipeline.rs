//! The ingest pipeline for one run: resolve inputs, open them all (fail before
//! writing anything), then per input: NVTX pass, then kernels ∥ memops, then the
//! `steps` rows; finally the atomic commit, which rewrites the `runs` row (and
//! `model_flops`) from the facts of every part of the run ([`super::run_facts`]).
//!
//! Each input is one part of the run, named after its file ([`part_names`]): this
//! ingest owns those parts and replaces only them, so several ingests (one per rank
//! file or node) can write one run.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use super::nsys::gpu_ops::{self, KernelOrder};
use super::nsys::meta::{self, ExportFacts};
use super::nsys::nvtx;
use super::nsys::NsysExport;
use super::run_facts::{self, PartFacts, ShapeFlops};
use super::stats::{KernelStats, MemopStats};
use super::steps::Steps;
use super::summary::Summary;
use super::{kineto, probe, IngestConfig, InputKind, ShapeCount, Survey};
use crate::arch::flops::{self, Phase, Shape};
use crate::arch::Arch;
use crate::dataset::parts;
use crate::dataset::schema::{
    KernelsBuilder, MemopsBuilder, NvtxBuilder, StepsBuilder, TableBuilder,
};
use crate::dataset::{Staging, TableWriter};
use crate::error::{Error, Result};
use crate::nsys_tool;

/// One input, opened and checked.
enum Source {
    Nsys(NsysExport),
    Kineto(PathBuf),
}

/// What one input contributed.
struct FileOutcome {
    format: &'static str,
    /// Per (phase, bsz, seq) of the labelled steps: step counts.
    shapes: BTreeMap<(String, i32, i32), ShapeCount>,
    rank: Option<i64>,
    trace_id: Option<String>,
    kernels: KernelStats,
    steps: u64,
    memops: u64,
    nvtx: u64,
    facts: ExportFacts,
    survey: Survey,
}

/// Ingests `cfg.inputs` as one run and returns what was written.
pub fn run(cfg: &IngestConfig) -> Result<Summary> {
    let started = std::time::Instant::now();
    let sources = resolve_inputs(cfg)?
        .into_iter()
        .map(|(path, kind)| match kind {
            InputKind::Kineto => Ok(Source::Kineto(path)),
            _ => NsysExport::open(&path).map(Source::Nsys),
        })
        .collect::<Result<Vec<_>>>()?;
    // Stored as given; the partition key is derived injectively by the staging.
    let run_id = match &cfg.run_id {
        Some(id) => id.clone(),
        None => stem(&cfg.inputs[0]),
    };
    let parts = part_names(&cfg.inputs)?;
    let mut staging = Staging::begin(&cfg.out_dir, &run_id)?;
    for part in &parts {
        staging.claim_part(part)?;
    }
    let run_key = staging.key().to_string();
    let stale_removed = staging.stale_removed();
    let bars = MultiProgress::with_draw_target(if cfg.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let outcomes = sources
        .par_iter()
        .enumerate()
        .map(|(index, source)| match source {
            Source::Nsys(export) => ingest_file(&parts[index], export, cfg, &staging, &bars),
            Source::Kineto(path) => ingest_kineto(&parts[index], path, cfg, &staging, &bars),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut run_survey = Survey::default();
    check_duplicates(&outcomes, &cfg.inputs, &mut run_survey);
    for ((part, input), outcome) in parts.iter().zip(&cfg.inputs).zip(&outcomes) {
        staging.set_facts(part, part_facts(cfg, part, input, outcome).to_json()?);
    }
    staging.commit_merging(Some(&run_facts::write_run_tables))?;

    if stale_removed > 0 {
        run_survey.warn(format!(
            "removed {stale_removed} staging director{} left by killed ingests",
            if stale_removed == 1 { "y" } else { "ies" }
        ));
    }
    let mut summary = Summary {
        run_id: run_key,
        out_dir: cfg.out_dir.clone(),
        files: cfg.inputs.clone(),
        elapsed: started.elapsed(),
        ..Summary::default()
    };
    for outcome in outcomes {
        let k = outcome.kernels;
        summary.kernels += k.kernels;
        summary.labelled += k.labelled;
        summary.kernel_ns += k.kernel_ns;
        summary.labelled_ns += k.labelled_ns;
        for (category, (n, ns)) in k.by_category {
            let entry = summary.by_category.entry(category).or_default();
            entry.0 += n;
            entry.1 += ns;
        }
        summary.steps += outcome.steps;
        summary.memops += outcome.memops;
        summary.nvtx += outcome.nvtx;
        summary.survey.merge(outcome.survey);
        for (shape, count) in outcome.shapes {
            let entry = summary.shapes.entry(shape).or_default();
            entry.steps += count.steps;
            entry.steps_without_kernels += count.steps_without_kernels;
        }
    }
    summary.survey.merge(run_survey);
    Ok(summary)
}

/// Warns about inputs that look like the same capture twice (same Kineto trace id,
/// or the same rank).
fn check_duplicates(outcomes: &[FileOutcome], inputs: &[PathBuf], survey: &mut Survey) {
    let mut trace_ids: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ranks: BTreeMap<i64, usize> = BTreeMap::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        let name = |i: usize| {
            inputs
                .get(i)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        if let Some(id) = outcome.trace_id.as_deref() {
            if let Some(first) = trace_ids.insert(id, index) {
                survey.warn(format!(
                    "{} and {} are the same trace (trace id {id}): its kernels are counted twice",
                    name(first),
                    name(index)
                ));
            }
        }
        if let Some(rank) = outcome.rank {
            if let Some(first) = ranks.insert(rank, index) {
                survey.warn(format!(
                    "{} and {} both claim rank {rank}",
                    name(first),
                    name(index)
                ));
            }
        }
    }
}

/// The part each input owns: its file stem as a portable name (see
/// [`crate::dataset::parts`]); two inputs of one ingest may not share one.
fn part_names(inputs: &[PathBuf]) -> Result<Vec<String>> {
    let mut seen: BTreeMap<String, &Path> = BTreeMap::new();
    let mut names = Vec::new();
    for input in inputs {
        let name = parts::part_name(&stem(input))?;
        if let Some(first) = seen.insert(name.clone(), input) {
            return Err(Error::Usage(format!(
                "{} and {} would both be part {name:?} of the run (parts are named by file); \
                 rename one of them",
                first.display(),
                input.display()
            )));
        }
        names.push(name);
    }
    Ok(names)
}

/// Resolves every input to an nsys SQLite path (exporting `.nsys-rep` reports) or
/// a Kineto trace.
fn resolve_inputs(cfg: &IngestConfig) -> Result<Vec<(PathBuf, InputKind)>> {
    if cfg.inputs.is_empty() {
        return Err(Error::Usage("no input files given".into()));
    }
    let mut seen = HashSet::new();
    let mut paths = Vec::new();
    for input in &cfg.inputs {
        let canonical = std::fs::canonicalize(input).map_err(|e| Error::io(input, e))?;
        if !seen.insert(canonical) {
            return Err(Error::Usage(format!(
                "{} is given twice; each input may appear once per run",
                input.display()
            )));
        }
        match probe(input)? {
            InputKind::NsysRep => paths.push((
                nsys_tool::export_sqlite(input, cfg.nsys.as_deref())?,
                InputKind::Sqlite,
            )),
            kind => paths.push((input.clone(), kind)),
        }
    }
    Ok(paths)
}

/// File name without its trace extension (`a.b.sqlite` → `a.b`).
fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    [".sqlite", ".nsys-rep", ".qdrep", ".db", ".json.gz", ".json"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name)
        .to_string()
}

/// A progress bar over the rows of `tables` (counted only when it is drawn).
fn bar(bars: &MultiProgress, export: &NsysExport, tables: &[&str], what: &str) -> ProgressBar {
    let total = if bars.is_hidden() {
        0
    } else {
        export
            .connect()
            .ok()
            .map(|c| {
                tables
                    .iter()
                    .filter(|t| export.has_table(t))
                    .filter_map(|t| {
                        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                            r.get::<_, u64>(0)
                        })
                        .ok()
                    })
                    .sum()
            })
            .unwrap_or(0)
    };
    let bar = bars.add(ProgressBar::new(total));
    let name = export
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    bar.set_prefix(format!("{name} {what}"));
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>24} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn ingest_file(
    part: &str,
    export: &NsysExport,
    cfg: &IngestConfig,
    staging: &Staging,
    bars: &MultiProgress,
) -> Result<FileOutcome> {
    let mut survey = Survey::default();
    let base = parts::step_base(part);

    let progress = bar(bars, export, &["NVTX_EVENTS"], "nvtx");
    let mut nvtx_out =
        TableWriter::<NvtxBuilder>::create(&staging.part_path(NvtxBuilder::NAME, part)?)?;
    let steps = nvtx::read(export, &mut nvtx_out, base, &mut survey, &progress)?;
    let nvtx = nvtx_out.finish()?;
    progress.finish_and_clear();

    let kernel_path = staging.part_path(KernelsBuilder::NAME, part)?;
    let memop_path = staging.part_path(MemopsBuilder::NAME, part)?;
    let (kernels, memops) = rayon::join(
        || -> Result<(KernelStats, Survey)> {
            let mut survey = Survey::default();
            let progress = bar(bars, export, &["CUPTI_ACTIVITY_KIND_KERNEL"], "kernels");
            let read = |order, survey: &mut Survey| -> Result<Option<KernelStats>> {
                let mut out = TableWriter::<KernelsBuilder>::create(&kernel_path)?;
                let stats = gpu_ops::read_kernels(
                    export, &steps, &cfg.rules, order, &mut out, survey, &progress,
                )?;
                if stats.is_some() {
                    out.finish()?;
                }
                Ok(stats)
            };
            // nsys exports kernels sorted by start: read them as stored and sort
            // only when that turns out to be false.
            let stats = match read(KernelOrder::AsStored, &mut survey)? {
                Some(stats) => stats,
                None => {
                    progress.set_position(0);
                    let mut retry = Survey::default();
                    let stats =
                        read(KernelOrder::ByStart, &mut retry)?.ok_or_else(|| Error::Parquet {
                            path: kernel_path.clone(),
                            reason: "kernels sorted by SQLite came back out of order".into(),
                        })?;
                    survey = retry;
                    stats
                }
            };
            progress.finish_and_clear();
            Ok((stats, survey))
        },
        || -> Result<(MemopStats, u64, Survey)> {
            let mut survey = Survey::default();
            let progress = bar(
                bars,
                export,
                &["CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET"],
                "memops",
            );
            let mut out = TableWriter::<MemopsBuilder>::create(&memop_path)?;
            let stats = gpu_ops::read_memops(export, &steps, &mut out, &mut survey, &progress)?;
            let rows = out.finish()?;
            progress.finish_and_clear();
            Ok((stats, rows, survey))
        },
    );
    let (kernels, kernel_survey) = kernels?;
    let (memop_steps, memops, memop_survey) = memops?;
    survey.merge(kernel_survey);
    survey.merge(memop_survey);

    write_steps(staging, part, &steps, &kernels, &memop_steps)?;
    let facts = meta::read(export, &kernels.devices)?;
    Ok(FileOutcome {
        shapes: shapes_of(&steps, &kernels),
        format: "nsys-sqlite",
        rank: None,
        trace_id: None,
        kernels,
        steps: steps.ranges.len() as u64,
        memops,
        nvtx,
        facts,
        survey,
    })
}

fn ingest_kineto(
    part: &str,
    path: &Path,
    cfg: &IngestConfig,
    staging: &Staging,
    bars: &MultiProgress,
) -> Result<FileOutcome> {
    let mut survey = Survey::default();
    let progress = bars.add(ProgressBar::new_spinner());
    progress.set_prefix(
        path.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>24} [{elapsed_precise}] {spinner} {human_pos} events",
    ) {
        progress.set_style(style);
    }
    let mut kernels =
        TableWriter::<KernelsBuilder>::create(&staging.part_path(KernelsBuilder::NAME, part)?)?;
    let mut memops =
        TableWriter::<MemopsBuilder>::create(&staging.part_path(MemopsBuilder::NAME, part)?)?;
    let mut nvtx =
        TableWriter::<NvtxBuilder>::create(&staging.part_path(NvtxBuilder::NAME, part)?)?;
    let outputs = kineto::Outputs {
        kernels: &mut kernels,
        memops: &mut memops,
        nvtx: &mut nvtx,
    };
    let imported = kineto::import(
        path,
        parts::step_base(part),
        &cfg.rules,
        outputs,
        &mut survey,
        &progress,
    )?;
    kernels.finish()?;
    memops.finish()?;
    nvtx.finish()?;
    progress.finish_and_clear();
    write_steps(
        staging,
        part,
        &imported.steps,
        &imported.kernels,
        &imported.memops,
    )?;
    Ok(FileOutcome {
        shapes: shapes_of(&imported.steps, &imported.kernels),
        format: "kineto",
        rank: imported
            .rank
            .or(cfg.meta.rank.filter(|_| cfg.inputs.len() == 1)),
        trace_id: imported.trace_id,
        steps: imported.steps.ranges.len() as u64,
        kernels: imported.kernels,
        memops: imported.memop_rows,
        nvtx: imported.nvtx_rows,
        facts: imported.facts,
        survey,
    })
}

fn shapes_of(steps: &Steps, kernels: &KernelStats) -> BTreeMap<(String, i32, i32), ShapeCount> {
    let mut with_kernels: BTreeSet<i64> = BTreeSet::new();
    for ((step, _), gpu) in &kernels.per_step {
        if gpu.time.count > 0 {
            with_kernels.insert(*step);
        }
    }
    let mut shapes: BTreeMap<(String, i32, i32), ShapeCount> = BTreeMap::new();
    for (offset, r) in steps.ranges.iter().enumerate() {
        let entry = shapes
            .entry((r.label.phase.clone(), r.label.bsz, r.label.seq))
            .or_default();
        entry.steps += 1;
        entry.steps_without_kernels +=
            u64::from(!with_kernels.contains(&(steps.base + offset as i64)));
    }
    shapes
}

/// One row per (step, device it ran kernels on); a step without kernels gets one
/// row with a null device.
fn write_steps(
    staging: &Staging,
    part: &str,
    steps: &Steps,
    kernels: &KernelStats,
    memops: &MemopStats,
) -> Result<u64> {
    let mut out =
        TableWriter::<StepsBuilder>::create(&staging.part_path(StepsBuilder::NAME, part)?)?;
    let mut devices_of: BTreeMap<i64, Vec<i32>> = BTreeMap::new();
    for (step, device) in kernels.per_step.keys() {
        devices_of.entry(*step).or_default().push(*device);
    }
    for (offset, range) in steps.ranges.iter().enumerate() {
        let step = steps.base + offset as i64;
        let mut devices: Vec<Option<i32>> = devices_of
            .get(&step)
            .map(|d| d.iter().copied().map(Some).collect())
            .unwrap_or_else(|| vec![None]);
        devices.sort_unstable();
        for device in devices {
            let gpu = device
                .and_then(|d| kernels.per_step.get(&(step, d)))
                .cloned()
                .unwrap_or_default();
            let t = &gpu.time;
            let r = &mut out.rows;
            r.step.append_value(step);
            r.phase.append_value(&range.label.phase);
            r.bsz.append_value(range.label.bsz);
            r.seq.append_value(range.label.seq);
            r.iter.append_option(range.label.iter);
            r.pid.append_value(super::nsys::pid_of(range.thread));
            r.tid.append_value(super::nsys::tid_of(range.thread));
            r.device.append_option(device);
            r.cpu_start_ns.append_value(range.start);
            r.cpu_end_ns.append_value(range.end);
            r.cpu_dur_ns.append_value(range.end - range.start);
            r.gpu_start_ns.append_option(t.span.map(|s| s.0));
            r.gpu_end_ns.append_option(t.span.map(|s| s.1));
            r.gpu_span_ns.append_option(t.span.map(|s| s.1 - s.0));
            r.gpu_busy_ns.append_value(t.busy_ns());
            r.gpu_idle_ns.append_value(t.idle_ns());
            r.kernel_ns.append_value(t.summed_ns);
            r.kernels.append_value(t.count);
            r.graph_kernels.append_value(gpu.graph_kernels);
            r.memops
                .append_value(memops.get(&step).copied().unwrap_or(0));
            r.comm_ns.append_value(t.comm_ns());
            r.comm_hidden_ns.append_value(t.comm_hidden_ns());
            r.comm_exposed_ns.append_value(t.comm_exposed_ns());
            out.row_done()?;
        }
    }
    out.finish()
}

/// What input `input` (part `part`) contributes to the run-level tables.
fn part_facts(cfg: &IngestConfig, part: &str, input: &Path, outcome: &FileOutcome) -> PartFacts {
    let f = &outcome.facts;
    let m = &cfg.meta;
    PartFacts {
        source_file: input
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        format: outcome.format.to_string(),
        step_base: parts::step_base(part),
        nsys_version: f.nsys_version.clone(),
        schema_version: f.schema_version.clone(),
        gpu_names: f.gpu_names.iter().cloned().collect(),
        devices: outcome.kernels.devices.len() as i32,
        host_gpus: f.host_gpus,
        cuda_driver_version: f.cuda_driver_version.clone(),
        cuda_graph_trace: f.cuda_graph_trace.clone(),
        kernels: outcome.kernels.kernels as i64,
        labelled_kernels: outcome.kernels.labelled as i64,
        steps: outcome.steps as i64,
        rank: outcome.rank,
        rules_hash: cfg.rules.hash.clone(),
        trace_version: env!("CARGO_PKG_VERSION").to_string(),
        model: m.model.clone(),
        mconf: m.mconf.clone(),
        deploy: m.deploy.clone(),
        backend: m.backend.clone(),
        engine: m.engine.clone(),
        sglang_version: m.sglang_version.clone(),
        flops: cfg
            .arch
            .as_ref()
            .map(|arch| shape_flops(arch, outcome.shapes.keys())),
    }
}

/// The model's FLOPs of each prefill/decode shape among `shapes`.
fn shape_flops<'a>(
    arch: &Arch,
    shapes: impl Iterator<Item = &'a (String, i32, i32)>,
) -> Vec<ShapeFlops> {
    let mut rows = Vec::new();
    for (phase_name, bsz, seq) in shapes {
        let phase = match phase_name.as_str() {
            "prefill" => Phase::Prefill,
            "decode" => Phase::Decode,
            _ => continue,
        };
        let shape = Shape {
            phase,
            bsz: *bsz as u64,
            seq: *seq as u64,
        };
        let count = flops::count(arch, shape, None);
        let part = |names: &[&str]| -> i64 {
            count
                .components
                .iter()
                .filter(|(c, _)| names.contains(c))
                .map(|(_, n)| *n as i64)
                .sum()
        };
        rows.push(ShapeFlops {
            phase: phase_name.clone(),
            bsz: *bsz,
            seq: *seq,
            flops: count.total as i64,
            attention_flops: part(&["attention_proj", "attention_scores"]),
            mlp_flops: part(&["dense_mlp", "experts", "shared_experts", "router"]),
            lm_head_flops: part(&["lm_head"]),
            weight_bytes: count.weight_bytes as i64,
            kv_bytes: count.kv_bytes as i64,
            fp8: arch.weight_bytes == 1,
        });
    }
    rows
}
