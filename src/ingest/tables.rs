//! The run's derived tables, written once per input (`steps`) or once per run
//! (`runs`, `model_flops`) from what the passes accumulated.

use std::collections::{BTreeMap, BTreeSet};

use super::importer::RunFacts;
use super::stats::{KernelStats, MemopStats};
use super::steps::Steps;
use super::{IngestConfig, ShapeCount, Survey};
use crate::arch::flops::{self, Phase, Shape, UNKNOWN_PHASE};
use crate::arch::peaks::{self, Precision};
use crate::arch::Arch;
use crate::dataset::schema::{ModelFlopsBuilder, RunsBuilder, StepsBuilder, TableBuilder};
use crate::dataset::{Staging, TableWriter};
use crate::error::Result;

/// What one input contributed to the run.
pub struct InputOutcome {
    pub format: &'static str,
    /// Per (phase, bsz, seq) of the labelled steps: step counts.
    pub shapes: BTreeMap<(String, i32, i32), ShapeCount>,
    pub kernels: KernelStats,
    pub steps: u64,
    pub memops: u64,
    pub nvtx: u64,
    /// Run facts, with the rank resolved (`--rank` for a single input).
    pub facts: RunFacts,
    pub survey: Survey,
}

pub fn shapes_of(steps: &Steps, kernels: &KernelStats) -> BTreeMap<(String, i32, i32), ShapeCount> {
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
pub fn write_steps(
    staging: &Staging,
    index: usize,
    steps: &Steps,
    kernels: &KernelStats,
    memops: &MemopStats,
) -> Result<u64> {
    let mut out =
        TableWriter::<StepsBuilder>::create(&staging.part_path(StepsBuilder::NAME, index)?)?;
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

/// `model_flops`: one row per distinct (phase, bsz, seq) among the run's steps.
pub fn write_model_flops(
    cfg: &IngestConfig,
    arch: &Arch,
    staging: &Staging,
    outcomes: &[InputOutcome],
    survey: &mut Survey,
) -> Result<()> {
    let shapes: BTreeSet<(String, i32, i32)> = outcomes
        .iter()
        .flat_map(|o| o.shapes.keys().cloned())
        .collect();
    let gpu = joined(
        outcomes
            .iter()
            .flat_map(|o| o.facts.gpu_names.iter().cloned()),
    );
    let peak = gpu.as_deref().and_then(peaks::for_gpu);
    let mut out =
        TableWriter::<ModelFlopsBuilder>::create(&staging.part_path(ModelFlopsBuilder::NAME, 0)?)?;
    for (phase_name, bsz, seq) in shapes {
        let Some(phase) = Phase::parse(&phase_name) else {
            survey.skip(UNKNOWN_PHASE);
            continue;
        };
        let count = flops::count(
            arch,
            Shape {
                phase,
                bsz: bsz as u64,
                seq: seq as u64,
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
        let r = &mut out.rows;
        r.model
            .append_value(cfg.meta.model.as_deref().unwrap_or_default());
        r.mconf
            .append_value(cfg.meta.mconf.as_deref().unwrap_or_default());
        r.phase.append_value(&phase_name);
        r.bsz.append_value(bsz);
        r.seq.append_value(seq);
        r.flops.append_value(count.total as i64);
        r.attention_flops
            .append_value(part(&["attention_proj", "attention_scores"]));
        r.mlp_flops
            .append_value(part(&["dense_mlp", "experts", "shared_experts", "router"]));
        r.lm_head_flops.append_value(part(&["lm_head"]));
        r.weight_bytes.append_value(count.weight_bytes as i64);
        r.kv_bytes.append_value(count.kv_bytes as i64);
        let precision = Precision::of(arch);
        r.dtype.append_value(precision.as_str());
        r.gpu.append_option(gpu.as_deref());
        r.peak_flops
            .append_option(peak.map(|p| p.flops_per_s(precision)));
        r.peak_bytes_per_s
            .append_option(peak.map(|p| 1e12 * p.memory_tb_s));
        out.row_done()?;
    }
    out.finish().map(|_| ())
}

fn joined(values: impl IntoIterator<Item = String>) -> Option<String> {
    let set: BTreeSet<String> = values.into_iter().collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join(", "))
}

pub fn write_runs(
    cfg: &IngestConfig,
    run_id: &str,
    staging: &Staging,
    outcomes: &[InputOutcome],
) -> Result<()> {
    let mut out = TableWriter::<RunsBuilder>::create(&staging.part_path(RunsBuilder::NAME, 0)?)?;
    let facts = || outcomes.iter().map(|o| &o.facts);
    let names: Vec<String> = cfg
        .inputs
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        })
        .collect();
    let r = &mut out.rows;
    r.run_id.append_value(run_id);
    r.source_files.append_value(names.join(","));
    r.source_format
        .append_value(joined(outcomes.iter().map(|o| o.format.to_string())).unwrap_or_default());
    r.nsys_version
        .append_option(joined(facts().filter_map(|f| f.nsys_version.clone())));
    r.schema_version
        .append_option(joined(facts().filter_map(|f| f.schema_version.clone())));
    r.gpu
        .append_option(joined(facts().flat_map(|f| f.gpu_names.iter().cloned())));
    r.gpus.append_value(
        outcomes
            .iter()
            .map(|o| o.kernels.devices.len() as i32)
            .sum(),
    );
    let host: Vec<i32> = facts().filter_map(|f| f.host_gpus).collect();
    r.host_gpus
        .append_option((!host.is_empty()).then(|| host.iter().sum()));
    r.cuda_driver_version.append_option(joined(
        facts().filter_map(|f| f.cuda_driver_version.clone()),
    ));
    r.cuda_graph_trace
        .append_option(joined(facts().filter_map(|f| f.cuda_graph_trace.clone())));
    r.kernels
        .append_value(outcomes.iter().map(|o| o.kernels.kernels as i64).sum());
    r.labelled_kernels
        .append_value(outcomes.iter().map(|o| o.kernels.labelled as i64).sum());
    r.steps
        .append_value(outcomes.iter().map(|o| o.steps as i64).sum());
    let ranks: BTreeSet<i64> = facts().filter_map(|f| f.rank).collect();
    let ranks: Vec<String> = ranks.iter().map(i64::to_string).collect();
    r.ranks
        .append_option((!ranks.is_empty()).then(|| ranks.join(",")));
    r.rules_hash.append_value(&cfg.rules.hash);
    r.trace_version.append_value(env!("CARGO_PKG_VERSION"));
    let m = &cfg.meta;
    r.model.append_option(m.model.as_deref());
    r.mconf.append_option(m.mconf.as_deref());
    r.deploy.append_option(m.deploy.as_deref());
    r.backend.append_option(m.backend.as_deref());
    r.engine.append_option(m.engine.as_deref());
    r.sglang_version.append_option(m.sglang_version.as_deref());
    out.row_done()?;
    out.finish().map(|_| ())
}
