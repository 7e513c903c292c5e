//! Appending attributed records to the `kernels`, `memops` and `nvtx` tables: the
//! one place each row is written, for every importer.

use super::categorize::Categorized;
use super::importer::{KernelRecord, MemopRecord, NvtxRecord};
use super::steps::Steps;
use crate::attribute::module_index::Modules;
use crate::dataset::schema::{KernelsBuilder, MemopsBuilder, NvtxBuilder};
use crate::dataset::TableWriter;
use crate::error::Result;

/// A kernel with what the pipeline decided about it.
#[derive(Debug)]
pub struct KernelRow<'a> {
    pub record: &'a KernelRecord,
    /// Category, its source and the launching module.
    pub categorized: Categorized,
    pub step: Option<i64>,
}

/// The step columns shared by `kernels` and `memops`: the step's label, or
/// `fallback_phase` alone for unlabelled rows of an input without labels.
/// `step_categories` carries them too.
pub struct StepColumns<'a> {
    pub step: Option<i64>,
    pub phase: Option<&'a str>,
    pub bsz: Option<i32>,
    pub seq: Option<i32>,
    pub iter: Option<i32>,
}

/// The step columns of a row in `step`.
pub fn step_columns<'a>(
    steps: &'a Steps,
    step: Option<i64>,
    fallback_phase: Option<&'a str>,
) -> StepColumns<'a> {
    let label = step.and_then(|s| steps.range(s)).map(|r| &r.label);
    StepColumns {
        step,
        phase: label.map(|l| l.phase.as_str()).or(fallback_phase),
        bsz: label.map(|l| l.bsz),
        seq: label.and_then(|l| l.seq),
        iter: label.and_then(|l| l.iter),
    }
}

/// Appends one kernel row to `r` (a chunk's builder: kernel rows are built into
/// batches by the threads that read them).
pub fn append_kernel(
    r: &mut KernelsBuilder,
    row: &KernelRow,
    steps: &Steps,
    modules: &Modules,
    fallback_phase: Option<&str>,
) {
    let k = row.record;
    let s = step_columns(steps, row.step, fallback_phase);
    r.device.append_value(k.device);
    r.pid.append_value(k.pid);
    r.tid.append_option(k.tid);
    r.stream.append_value(k.stream);
    r.correlation_id.append_option(k.correlation_id);
    r.start_ns.append_value(k.start);
    r.end_ns.append_value(k.end);
    r.dur_ns.append_value(k.end - k.start);
    r.name.append_keyed(k.name_key.0, &k.name);
    r.demangled.append_keyed(k.name_key.1, &k.demangled);
    let c = &row.categorized;
    let module = c.module.and_then(|id| modules.info(id));
    r.category.append_value(c.category);
    r.category_source.append_value(c.source.as_str());
    r.name_category.append_value(c.by_name);
    r.module.append_option(module.map(|m| m.qualified.as_str()));
    r.module_class.append_option(
        module
            .map(|m| m.class.as_str())
            .filter(|class| !class.is_empty()),
    );
    r.layer.append_option(module.and_then(|m| m.layer));
    r.launch
        .append_value(if k.from_graph { "graph" } else { "kernel" });
    r.api
        .append_option(k.launch.as_ref().and_then(|l| l.api.as_deref()));
    r.graph_node_id.append_option(k.graph_node_id);
    r.grid_x.append_value(k.grid[0]);
    r.grid_y.append_value(k.grid[1]);
    r.grid_z.append_value(k.grid[2]);
    r.block_x.append_value(k.block[0]);
    r.block_y.append_value(k.block[1]);
    r.block_z.append_value(k.block[2]);
    r.registers.append_value(k.registers);
    r.shared_static_bytes.append_value(k.shared_static_bytes);
    r.shared_dynamic_bytes.append_value(k.shared_dynamic_bytes);
    r.step.append_option(s.step);
    r.phase.append_option(s.phase);
    r.bsz.append_option(s.bsz);
    r.seq.append_option(s.seq);
    r.iter.append_option(s.iter);
}

/// Appends one memop row attributed to `step`.
pub fn append_memop(
    out: &mut TableWriter<MemopsBuilder>,
    m: &MemopRecord,
    step: Option<i64>,
    steps: &Steps,
    fallback_phase: Option<&str>,
) -> Result<()> {
    let s = step_columns(steps, step, fallback_phase);
    let r = &mut out.rows;
    r.device.append_value(m.device);
    r.pid.append_value(m.pid);
    r.tid.append_option(m.tid);
    r.stream.append_value(m.stream);
    r.correlation_id.append_option(m.correlation_id);
    r.start_ns.append_value(m.start);
    r.end_ns.append_value(m.end);
    r.dur_ns.append_value(m.end - m.start);
    r.kind.append_value(m.kind);
    r.copy_kind.append_option(m.copy_kind.as_deref());
    r.bytes.append_value(m.bytes);
    r.name.append_value(&m.name);
    r.launch.append_value(m.launched_by);
    r.api
        .append_option(m.launch.as_ref().and_then(|l| l.api.as_deref()));
    r.step.append_option(s.step);
    r.phase.append_option(s.phase);
    r.bsz.append_option(s.bsz);
    r.seq.append_option(s.seq);
    r.iter.append_option(s.iter);
    out.row_done()
}

/// Appends one NVTX row with its nesting depth and step.
pub fn append_nvtx(
    out: &mut TableWriter<NvtxBuilder>,
    n: &NvtxRecord,
    depth: i32,
    step: Option<i64>,
) -> Result<()> {
    let r = &mut out.rows;
    r.pid.append_value(n.pid);
    r.tid.append_value(n.tid);
    r.start_ns.append_value(n.start);
    r.end_ns.append_option(n.end);
    r.dur_ns.append_option(n.end.map(|e| e - n.start));
    r.kind.append_value(n.kind);
    r.text.append_option(n.text.as_deref());
    r.domain_id.append_option(n.domain_id);
    r.depth.append_value(depth);
    r.step.append_option(step);
    out.row_done()
}
