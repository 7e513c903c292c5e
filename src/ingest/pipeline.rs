//! The ingest pipeline for one run: resolve inputs, open them all (fail before
//! writing anything), then ingest the inputs concurrently, each through its
//! [`Importer`] and the shared [`passes`]; finally the atomic commit, which rewrites
//! the `runs` row (and `model_flops`) from the facts of every part of the run
//! ([`super::run_facts`]).
//!
//! Per input: the NVTX pass ∥ the importer's `prepare`, then kernels ∥ memops, then
//! the `steps` rows. Each input is one part of the run, named after its file
//! ([`part_names`]): it writes `part-<name>` files and numbers its steps from the
//! part's step base, so nothing depends on which input finishes first, and this
//! ingest owns those parts and replaces only them, so several ingests (one per rank
//! file or node) can write one run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use indicatif::MultiProgress;
use rayon::prelude::*;

use super::config::IngestConfig;
use super::importer::Importer;
use super::kineto::KinetoImporter;
use super::nsys::{NsysImporter, ParquetDirImporter};
use super::passes;
use super::probe::{probe, InputKind};
use super::progress::{self, Bars};
use super::run_facts;
use super::summary::Summary;
use super::survey::Survey;
use super::tables::{self, InputOutcome};
use crate::attribute::module_index::Modules;
use crate::dataset::parts;
use crate::dataset::schema::{KernelsBuilder, MemopsBuilder, NvtxBuilder, TableBuilder};
use crate::dataset::{Staging, TableWriter};
use crate::error::{Error, Result};
use crate::nsys_tool;
use crate::stage_timing;

/// One input, opened and checked (Kineto traces are read when ingested).
enum Source {
    Nsys(NsysImporter),
    NsysParquet(ParquetDirImporter),
    Kineto(PathBuf),
}

/// Ingests `cfg.inputs` as one run and returns what was written.
pub fn run(cfg: &IngestConfig) -> Result<Summary> {
    let started = std::time::Instant::now();
    let sources = resolve_inputs(cfg)?
        .into_iter()
        .map(|(path, kind)| match kind {
            InputKind::Kineto => Ok(Source::Kineto(path)),
            InputKind::ParquetDir => ParquetDirImporter::open(&path).map(Source::NsysParquet),
            _ => NsysImporter::open(&path).map(Source::Nsys),
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
    let bars = progress::bars(cfg.progress);
    // Kineto files are read first, all of them, so graph replays in one file can
    // match captures profiled in another (KinetoImporter::link).
    let mut surveys: Vec<Survey> = sources.iter().map(|_| Survey::default()).collect();
    let loaded = sources
        .par_iter()
        .zip(surveys.par_iter_mut())
        .map(|(source, survey)| match source {
            Source::Nsys(_) | Source::NsysParquet(_) => Ok(None),
            Source::Kineto(path) => {
                let spinner = progress::events(&bars, path);
                let importer = KinetoImporter::load(path, survey, &spinner)?;
                spinner.finish_and_clear();
                Ok(Some(importer))
            }
        })
        .collect::<Result<Vec<Option<KinetoImporter>>>>()?;
    let mut kineto: Vec<KinetoImporter> = loaded.into_iter().flatten().collect();
    KinetoImporter::link(&mut kineto);
    let mut kineto = kineto.iter();
    let importers: Vec<&dyn Importer> = sources
        .iter()
        .map(|source| match source {
            Source::Nsys(importer) => Some(importer as &dyn Importer),
            Source::NsysParquet(importer) => Some(importer as &dyn Importer),
            Source::Kineto(_) => kineto.next().map(|k| k as &dyn Importer),
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Usage("internal: a Kineto input was not loaded".into()))?;
    let outcomes = importers
        .par_iter()
        .zip(surveys)
        .enumerate()
        .map(|(index, (importer, survey))| {
            ingest_input(&parts[index], *importer, cfg, &staging, &bars, survey)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut run_survey = Survey::default();
    check_duplicates(&outcomes, &cfg.inputs, &mut run_survey);
    for ((part, input), outcome) in parts.iter().zip(&cfg.inputs).zip(&outcomes) {
        let facts = tables::part_facts(cfg, part, input, outcome, &mut run_survey);
        staging.set_facts(part, facts.to_json()?);
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
    let mut other_by_name: HashMap<String, i64> = HashMap::new();
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
        for (source, (n, ns)) in k.by_source {
            let entry = summary.by_source.entry(source).or_default();
            entry.0 += n;
            entry.1 += ns;
        }
        for (reason, n) in k.fallbacks {
            *summary.fallbacks.entry(reason).or_default() += n;
        }
        summary.module_ranges += k.module_ranges;
        for (name, ns) in k.other_by_name {
            *other_by_name.entry(name).or_default() += ns;
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
    if let Some(warning) = other_warning(&summary, other_by_name) {
        run_survey.warn(warning);
    }
    summary.survey.merge(run_survey);
    Ok(summary)
}

/// Share of GPU time left `other` above which ingest warns.
const OTHER_WARN_SHARE: f64 = 0.05;

/// A warning naming the top three `other` kernels when they exceed 5 % of GPU time.
fn other_warning(summary: &Summary, other_by_name: HashMap<String, i64>) -> Option<String> {
    let other_ns = summary.by_category.get("other").map_or(0, |e| e.1);
    let share = other_ns as f64 / summary.kernel_ns.max(1) as f64;
    if share <= OTHER_WARN_SHARE {
        return None;
    }
    let mut names: Vec<(String, i64)> = other_by_name.into_iter().collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let top: Vec<String> = names
        .iter()
        .take(3)
        .map(|(name, ns)| {
            format!(
                "{} ({:.1}%)",
                crate::vocab::shown(name, 120),
                100.0 * *ns as f64 / summary.kernel_ns.max(1) as f64
            )
        })
        .collect();
    Some(format!(
        "{:.1}% of GPU time is `other` (over {:.0}%); top: {}. Add rules to conf/kernels.yaml or capture with module ranges; `trace query unattributed` lists the rest",
        100.0 * share,
        100.0 * OTHER_WARN_SHARE,
        top.join(", ")
    ))
}

/// The passes over input `part`; `survey` holds what loading it observed.
fn ingest_input(
    part_name: &str,
    importer: &dyn Importer,
    cfg: &IngestConfig,
    staging: &Staging,
    bars: &MultiProgress,
    mut survey: Survey,
) -> Result<InputOutcome> {
    let part = |table: &str| staging.part_path(table, part_name);
    let input = importer.path().display().to_string();
    let mut started = std::time::Instant::now();
    let nvtx_out = TableWriter::<NvtxBuilder>::create(&part(NvtxBuilder::NAME)?)?;
    let bar = Bars::new(bars, importer);
    let (nvtx, prepared) = rayon::join(
        || -> Result<_> {
            let mut survey = Survey::default();
            let progress = bar.rows(|| importer.nvtx_rows(), "nvtx");
            let done = passes::nvtx(
                importer,
                nvtx_out,
                parts::step_base(part_name),
                &mut survey,
                &progress,
            )?;
            progress.finish_and_clear();
            Ok((done, survey))
        },
        || -> Result<_> {
            let mut survey = Survey::default();
            let started = std::time::Instant::now();
            importer.prepare(&mut survey)?;
            let graph_nodes = importer.graph_nodes()?;
            stage_timing::report(
                &input,
                "prepare (launch index, graph nodes)",
                started.elapsed(),
            );
            Ok((survey, graph_nodes))
        },
    );
    stage_timing::report(
        &input,
        "nvtx pass ∥ prepare (launch index, graph nodes)",
        started.elapsed(),
    );
    started = std::time::Instant::now();
    let (nvtx, nvtx_survey) = nvtx?;
    let (prepared, graph_nodes) = prepared?;
    survey.merge(nvtx_survey);
    survey.merge(prepared);
    let (steps, nvtx_rows) = (nvtx.steps, nvtx.rows);
    let mut module_ranges = if nvtx.module_ranges.is_empty() {
        importer.module_ranges()?
    } else {
        nvtx.module_ranges
    };
    module_ranges.extend(importer.borrowed_module_ranges());
    let modules = Modules::new(module_ranges, &cfg.rules.modules, graph_nodes);

    let kernel_path = part(KernelsBuilder::NAME)?;
    let memop_out = TableWriter::<MemopsBuilder>::create(&part(MemopsBuilder::NAME)?)?;
    let (kernels, memops) = rayon::join(
        || -> Result<_> {
            let mut survey = Survey::default();
            let progress = bar.rows(|| importer.kernel_rows(), "kernels");
            let create = || TableWriter::<KernelsBuilder>::create(&kernel_path);
            let stats = passes::kernels(
                importer,
                &steps,
                &modules,
                &cfg.rules,
                &create,
                &mut survey,
                &progress,
            )?;
            progress.finish_and_clear();
            Ok((stats, survey))
        },
        || -> Result<_> {
            let mut survey = Survey::default();
            let progress = bar.rows(|| importer.memop_rows(), "memops");
            let done = passes::memops(importer, &steps, memop_out, &mut survey, &progress)?;
            progress.finish_and_clear();
            Ok((done, survey))
        },
    );
    stage_timing::report(&input, "kernels ∥ memops", started.elapsed());
    let (kernels, kernel_survey) = kernels?;
    let ((memop_steps, memop_rows), memop_survey) = memops?;
    survey.merge(kernel_survey);
    survey.merge(memop_survey);

    tables::write_steps(staging, part_name, &steps, &kernels, &memop_steps)?;
    let fallback_phase = passes::fallback_phase(importer, &steps);
    let summarised = std::time::Instant::now();
    tables::write_step_categories(staging, part_name, &steps, &kernels, fallback_phase)?;
    stage_timing::report(&input, "step_categories: write", summarised.elapsed());
    let mut facts = importer.facts(&kernels.devices)?;
    if importer.format() == "kineto" && cfg.inputs.len() == 1 {
        facts.rank = facts.rank.or(cfg.meta.rank);
    }
    Ok(InputOutcome {
        format: importer.format(),
        shapes: tables::shapes_of(&steps, &kernels),
        steps: steps.ranges.len() as u64,
        kernels,
        memops: memop_rows,
        nvtx: nvtx_rows,
        facts,
        survey,
    })
}

/// Warns about inputs that look like the same capture twice (same Kineto trace id,
/// or the same rank among the inputs with labelled steps).
fn check_duplicates(outcomes: &[InputOutcome], inputs: &[PathBuf], survey: &mut Survey) {
    let mut trace_ids: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ranks: BTreeMap<i64, usize> = BTreeMap::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        let name = |i: usize| {
            inputs
                .get(i)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        if let Some(id) = outcome.facts.trace_id.as_deref() {
            if let Some(first) = trace_ids.insert(id, index) {
                survey.warn(format!(
                    "{} and {} are the same trace (trace id {id}): its kernels are counted twice",
                    name(first),
                    name(index)
                ));
            }
        }
        // A file without steps (a graph-capture trace beside the steps that replay
        // it) shares its rank with the step file by design.
        if let Some(rank) = outcome.facts.rank.filter(|_| outcome.steps > 0) {
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
            InputKind::NsysRep => {
                let (export, kind) = nsys_tool::export_report(input, cfg.nsys.as_deref())?;
                let kind = match kind {
                    nsys_tool::ExportKind::Sqlite => InputKind::Sqlite,
                    nsys_tool::ExportKind::ParquetDir => InputKind::ParquetDir,
                };
                paths.push((export, kind));
            }
            kind => paths.push((input.clone(), kind)),
        }
    }
    Ok(paths)
}

/// File name without its trace extension (`a.b.sqlite` → `a.b`).
fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(crate::vocab::os_text)
        .unwrap_or_default();
    [
        ".sqlite",
        ".parquetdir",
        ".nsys-rep",
        ".qdrep",
        ".db",
        ".json.gz",
        ".json",
    ]
    .iter()
    .find_map(|ext| name.strip_suffix(ext))
    .unwrap_or(&name)
    .to_string()
}
