//! The run's derived tables: `steps`, written per input from what the passes
//! accumulated, and each input's [`PartFacts`], from which every commit rewrites
//! the run-level `runs` and `model_flops` ([`super::run_facts`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::config::IngestConfig;
use super::importer::RunFacts;
use super::rows::step_columns;
use super::run_facts::{PartFacts, ShapeFlops};
use super::stats::{KernelStats, MemopStats};
use super::steps::Steps;
use super::summary::ShapeCount;
use super::survey::Survey;
use crate::arch::flops::{self, Forward, Phase, UNKNOWN_PHASE};
use crate::arch::peaks::Precision;
use crate::arch::Arch;
use crate::dataset::parts;
use crate::dataset::schema::{StepCategoriesBuilder, StepsBuilder, TableBuilder};
use crate::dataset::{Staging, TableWriter};
use crate::error::Result;
use crate::vocab::Shape;

/// What one input contributed to the run.
pub struct InputOutcome {
    pub format: &'static str,
    /// Per (phase, bsz, seq) of the labelled steps: step counts.
    pub shapes: BTreeMap<Shape, ShapeCount>,
    pub kernels: KernelStats,
    pub steps: u64,
    pub memops: u64,
    pub nvtx: u64,
    /// Run facts, with the rank resolved (`--rank` for a single input).
    pub facts: RunFacts,
    pub survey: Survey,
}

pub fn shapes_of(steps: &Steps, kernels: &KernelStats) -> BTreeMap<Shape, ShapeCount> {
    let mut with_kernels: BTreeSet<i64> = BTreeSet::new();
    for ((step, _), gpu) in &kernels.per_step {
        if gpu.time.count > 0 {
            with_kernels.insert(*step);
        }
    }
    let mut shapes: BTreeMap<Shape, ShapeCount> = BTreeMap::new();
    for (offset, r) in steps.ranges.iter().enumerate() {
        let entry = shapes
            .entry(Shape::new(
                &r.label.phase,
                i64::from(r.label.bsz),
                r.label.seq.map(i64::from),
            ))
            .or_default();
        entry.steps += 1;
        entry.steps_without_kernels +=
            u64::from(!with_kernels.contains(&(steps.base + offset as i64)));
    }
    shapes
}

/// The `step_categories` rows of one input, in key order (step, with the unlabelled
/// first; device; categories; source; launch), with each step's labels as the
/// `kernels` rows carry them.
pub fn write_step_categories(
    staging: &Staging,
    part: &str,
    steps: &Steps,
    kernels: &KernelStats,
    fallback_phase: Option<&str>,
) -> Result<()> {
    let mut out = TableWriter::<StepCategoriesBuilder>::create(
        &staging.part_path(StepCategoriesBuilder::NAME, part)?,
    )?;
    let mut rows: Vec<_> = kernels.summary.iter().collect();
    rows.sort_by_key(|(key, _)| **key);
    for (key, cell) in rows {
        let s = step_columns(steps, key.step, fallback_phase);
        let b = &mut out.rows;
        b.step.append_option(s.step);
        b.phase.append_option(s.phase);
        b.bsz.append_option(s.bsz);
        b.seq.append_option(s.seq);
        b.iter.append_option(s.iter);
        b.device.append_value(key.device);
        b.category.append_value(key.category);
        b.name_category.append_value(key.name_category);
        b.category_source.append_value(key.source);
        b.launch
            .append_value(if key.graph { "graph" } else { "kernel" });
        b.kernels.append_value(cell.kernels);
        b.gpu_ns.append_value(cell.gpu_ns);
        b.module_ns.append_value(cell.module_ns);
        out.row_done()?;
    }
    out.finish().map(|_| ())
}

/// One row per (step, device it ran kernels on); a step without kernels gets one
/// row with a null device.
pub fn write_steps(
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
            r.seq.append_option(range.label.seq);
            r.iter.append_option(range.label.iter);
            let tokens = range.label.tokens.unwrap_or_default();
            let count = |v: Option<u64>| v.and_then(|v| i64::try_from(v).ok());
            r.prefill_reqs.append_option(count(tokens.prefill_reqs));
            r.prefill_tokens.append_option(count(tokens.prefill_tokens));
            r.decode_reqs.append_option(count(tokens.decode_reqs));
            r.decode_tokens.append_option(count(tokens.decode_tokens));
            r.kv_tokens.append_option(count(tokens.kv_tokens));
            r.pid.append_value(range.pid);
            r.tid.append_value(range.tid);
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

/// What input `input` (part `part`) contributes to the run-level tables; shapes
/// whose phase has no FLOP model are skipped and counted.
pub fn part_facts(
    cfg: &IngestConfig,
    part: &str,
    input: &Path,
    outcome: &InputOutcome,
    survey: &mut Survey,
) -> PartFacts {
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
        rank: f.rank,
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
            .map(|arch| shape_flops(arch, outcome.shapes.keys(), survey)),
    }
}

/// Why a labelled shape gets no `model_flops` row: its label states no seq.
const NO_SEQ: &str =
    "step shape without seq (an engine marker that does not say its tokens): no model FLOPs";

/// The model's FLOPs and bytes of each prefill/decode shape among `shapes`.
fn shape_flops<'a>(
    arch: &Arch,
    shapes: impl Iterator<Item = &'a Shape>,
    survey: &mut Survey,
) -> Vec<ShapeFlops> {
    let mut rows = Vec::new();
    for shape in shapes {
        let Some(phase) = Phase::parse(&shape.phase) else {
            survey.skip(UNKNOWN_PHASE);
            continue;
        };
        let Some(seq) = shape.seq.and_then(|s| u64::try_from(s).ok()) else {
            survey.skip(NO_SEQ);
            continue;
        };
        let count = flops::count(
            arch,
            Forward {
                phase,
                bsz: shape.bsz as u64,
                seq,
            },
            None,
        );
        let part = |names: &[&str]| -> i64 {
            count
                .components
                .iter()
                .filter(|(c, _)| names.contains(c))
                .map(|(_, n)| *n as i64)
                .sum()
        };
        rows.push(ShapeFlops {
            phase: shape.phase.clone(),
            bsz: shape.bsz as i32,
            seq: seq as i32,
            flops: count.total as i64,
            attention_flops: part(&["attention_proj", "attention_scores"]),
            mlp_flops: part(&["dense_mlp", "experts", "shared_experts", "router"]),
            lm_head_flops: part(&["lm_head"]),
            weight_bytes: count.weight_bytes as i64,
            kv_bytes: count.kv_bytes as i64,
            fp8: Precision::of(arch) == Precision::Fp8,
        });
    }
    rows
}
