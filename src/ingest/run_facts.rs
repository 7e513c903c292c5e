//! Run-level tables (`runs`, `model_flops`) merged from the facts of every part of a
//! run, whichever writer ingested each part and in whatever order they arrived.
//!
//! Each ingested input (a part, see [`crate::dataset::parts`]) records its
//! [`PartFacts`]; every ingest commit rewrites the run-level tables from the facts of
//! all parts of the new generation. Merge rules (parts taken in part-name order):
//! - counts (`kernels`, `labelled_kernels`, `steps`, `gpus`, `host_gpus`) are sums:
//!   parts are distinct processes or nodes, so `gpus` adds the devices each part ran
//!   kernels on;
//! - `source_files` lists every part's file, in part order; `ranks` the distinct
//!   ranks, ascending;
//! - text facts (formats, versions, GPU names, rules hash, model, deploy, …) are the
//!   distinct values joined with ", " (one value when the parts agree; a mix shows);
//! - `model_flops` has one row per shape of the parts ingested with a model config;
//!   a shape that several parts have takes the first part's numbers.
//!
//! Invariant: the merged rows depend only on the set of part facts, so one ingest of
//! all inputs and one ingest per input give byte-identical run-level tables.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::arch::peaks::{self, Precision};
use crate::dataset::commit::RunParts;
use crate::dataset::schema::{ModelFlopsBuilder, RunsBuilder, TableBuilder};
use crate::dataset::TableWriter;
use crate::error::{Error, Result};
use crate::vocab::Shape;

/// What one part contributes to the run-level tables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartFacts {
    pub source_file: String,
    pub format: String,
    pub step_base: i64,
    pub nsys_version: Option<String>,
    pub schema_version: Option<String>,
    pub gpu_names: Vec<String>,
    pub devices: i32,
    pub host_gpus: Option<i32>,
    pub cuda_driver_version: Option<String>,
    pub cuda_graph_trace: Option<String>,
    pub kernels: i64,
    pub labelled_kernels: i64,
    pub steps: i64,
    pub rank: Option<i64>,
    pub rules_hash: String,
    pub trace_version: String,
    pub model: Option<String>,
    pub mconf: Option<String>,
    pub deploy: Option<String>,
    pub backend: Option<String>,
    pub engine: Option<String>,
    pub sglang_version: Option<String>,
    /// Model FLOPs per shape of the part's steps; `None` without a model config.
    pub flops: Option<Vec<ShapeFlops>>,
}

/// The model's FLOPs and bytes for one (phase, bsz, seq).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShapeFlops {
    pub phase: String,
    pub bsz: i32,
    pub seq: i32,
    pub flops: i64,
    pub attention_flops: i64,
    pub mlp_flops: i64,
    pub lm_head_flops: i64,
    pub weight_bytes: i64,
    pub kv_bytes: i64,
    pub fp8: bool,
}

impl PartFacts {
    pub fn to_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::Usage(format!("internal: part facts: {e}")))
    }
}

/// The facts of every part of `run`, in part order.
fn parse(run: &RunParts) -> Result<Vec<(String, PartFacts)>> {
    run.facts
        .iter()
        .map(|(part, value)| {
            serde_json::from_value(value.clone())
                .map(|facts| (part.clone(), facts))
                .map_err(|e| {
                    Error::Usage(format!(
                        "part {part:?} of run {:?} has facts this trace cannot read ({e}); \
                         re-ingest that part",
                        run.run_id
                    ))
                })
        })
        .collect()
}

/// Writes `runs` (and `model_flops` when some part has a model config) for `run`.
pub fn write_run_tables(run: &RunParts) -> Result<()> {
    let parts = parse(run)?;
    let mut bases: BTreeMap<i64, &str> = BTreeMap::new();
    for (part, facts) in &parts {
        if let Some(other) = bases.insert(facts.step_base, part) {
            return Err(Error::Usage(format!(
                "parts {other:?} and {part:?} of run {:?} would share step ids; rename one input file",
                run.run_id
            )));
        }
    }
    let facts: Vec<&PartFacts> = parts.iter().map(|(_, f)| f).collect();
    write_runs(run, &facts)?;
    if facts.iter().any(|f| f.flops.is_some()) {
        write_model_flops(run, &facts)?;
    }
    Ok(())
}

/// Distinct values joined with ", ", or `None` when there are none.
pub fn joined(values: impl IntoIterator<Item = String>) -> Option<String> {
    let set: BTreeSet<String> = values.into_iter().collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join(", "))
}

fn write_runs(run: &RunParts, parts: &[&PartFacts]) -> Result<()> {
    let mut out = TableWriter::<RunsBuilder>::create(&run.run_table_path(RunsBuilder::NAME)?)?;
    let text = |get: fn(&PartFacts) -> Option<&String>| {
        joined(parts.iter().filter_map(|p| get(p).cloned()))
    };
    let sum = |get: fn(&PartFacts) -> i64| parts.iter().map(|p| get(p)).sum::<i64>();
    let r = &mut out.rows;
    r.run_id.append_value(run.run_id);
    let files: Vec<&str> = parts.iter().map(|p| p.source_file.as_str()).collect();
    r.source_files.append_value(files.join(","));
    r.source_format
        .append_value(joined(parts.iter().map(|p| p.format.clone())).unwrap_or_default());
    r.nsys_version
        .append_option(text(|p| p.nsys_version.as_ref()));
    r.schema_version
        .append_option(text(|p| p.schema_version.as_ref()));
    r.gpu
        .append_option(joined(parts.iter().flat_map(|p| p.gpu_names.clone())));
    r.gpus.append_value(parts.iter().map(|p| p.devices).sum());
    let host: Vec<i32> = parts.iter().filter_map(|p| p.host_gpus).collect();
    r.host_gpus
        .append_option((!host.is_empty()).then(|| host.iter().sum()));
    r.cuda_driver_version
        .append_option(text(|p| p.cuda_driver_version.as_ref()));
    r.cuda_graph_trace
        .append_option(text(|p| p.cuda_graph_trace.as_ref()));
    r.kernels.append_value(sum(|p| p.kernels));
    r.labelled_kernels.append_value(sum(|p| p.labelled_kernels));
    r.steps.append_value(sum(|p| p.steps));
    let ranks: BTreeSet<i64> = parts.iter().filter_map(|p| p.rank).collect();
    let ranks: Vec<String> = ranks.iter().map(i64::to_string).collect();
    r.ranks
        .append_option((!ranks.is_empty()).then(|| ranks.join(",")));
    r.rules_hash
        .append_value(joined(parts.iter().map(|p| p.rules_hash.clone())).unwrap_or_default());
    r.trace_version
        .append_value(joined(parts.iter().map(|p| p.trace_version.clone())).unwrap_or_default());
    r.model.append_option(text(|p| p.model.as_ref()));
    r.mconf.append_option(text(|p| p.mconf.as_ref()));
    r.deploy.append_option(text(|p| p.deploy.as_ref()));
    r.backend.append_option(text(|p| p.backend.as_ref()));
    r.engine.append_option(text(|p| p.engine.as_ref()));
    r.sglang_version
        .append_option(text(|p| p.sglang_version.as_ref()));
    out.row_done()?;
    out.finish().map(|_| ())
}

/// `model_flops`: one row per distinct (phase, bsz, seq) among the parts' shapes.
fn write_model_flops(run: &RunParts, parts: &[&PartFacts]) -> Result<()> {
    let mut shapes: BTreeMap<Shape, (&PartFacts, &ShapeFlops)> = BTreeMap::new();
    for part in parts {
        for shape in part.flops.iter().flatten() {
            shapes
                .entry(Shape::new(
                    &shape.phase,
                    i64::from(shape.bsz),
                    Some(i64::from(shape.seq)),
                ))
                .or_insert((part, shape));
        }
    }
    let gpu = joined(parts.iter().flat_map(|p| p.gpu_names.clone()));
    let peak = gpu.as_deref().and_then(peaks::for_gpu);
    let path = run.run_table_path(ModelFlopsBuilder::NAME)?;
    let mut out = TableWriter::<ModelFlopsBuilder>::create(&path)?;
    for (part, s) in shapes.values() {
        let r = &mut out.rows;
        r.model
            .append_value(part.model.as_deref().unwrap_or_default());
        r.mconf
            .append_value(part.mconf.as_deref().unwrap_or_default());
        r.phase.append_value(&s.phase);
        r.bsz.append_value(s.bsz);
        r.seq.append_value(s.seq);
        r.flops.append_value(s.flops);
        r.attention_flops.append_value(s.attention_flops);
        r.mlp_flops.append_value(s.mlp_flops);
        r.lm_head_flops.append_value(s.lm_head_flops);
        r.weight_bytes.append_value(s.weight_bytes);
        r.kv_bytes.append_value(s.kv_bytes);
        let precision = if s.fp8 {
            Precision::Fp8
        } else {
            Precision::Bf16
        };
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
