//! The PyTorch-profiler (Kineto) importer: chrome traces from SGLang's
//! `/start_profile`, `bench_one_batch --profile`, vLLM. [`KinetoImporter`]
//! implements [`Importer`] and so fills the same tables as an nsys export.
//!
//! Attribution is the nsys rule in Kineto terms: a kernel's launch is the
//! `cuda_runtime` / `cuda_driver` event with the same `correlation`, and the
//! pipeline finds the innermost labelled `user_annotation` on that thread.
//! Graph-replayed kernels share their `cudaGraphLaunch`'s correlation. Kineto
//! records no graph-node creation, so [`graphs`] synthesises it: a replay's ops
//! are matched by sequence to the launch calls of the stream capture that built
//! the graph, and each kernel's module is the one open at its launch during
//! capture ([`Importer::graph_nodes`]; the synthetic node ids stay internal,
//! `graph_node_id` is null). Replays that match no capture fall back to names,
//! counted by reason. Module ranges are the `module:` annotations, else PyTorch's
//! own `nn.Module` events ([`Importer::module_ranges`]). When no
//! label exists, SGLang's stage suffix in the file name (`-EXTEND`, `-DECODE`)
//! fills `phase` alone ([`Importer::fallback_phase`]).
//!
//! Memory: [`KinetoImporter::load`] reads the file once ([`collect`]) into compact
//! records, a small fraction of the file's size; kernels are then handed out as
//! one chunk sorted by start.

mod collect;
mod event;
mod graphs;
mod link;
mod loose;
mod names;
mod parse;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use super::importer::{
    Chunk, Importer, KernelOrder, KernelRecord, Launch, MemopRecord, NvtxRecord, RunFacts, Sink,
};
use crate::attribute::module_index::{GraphNodeEvent, ModuleRange};
use crate::attribute::Label;
use crate::error::Result;
use crate::ingest::survey::Survey;
use crate::vocab::process_of;
use collect::{Collected, GpuEvent};
use graphs::{is_graph_launch, Matched, Op, Replay};
use names::{phase_from_file_name, rank_from_file_name};

/// A Kineto trace, read: its compact records and metadata.
pub struct KinetoImporter {
    path: PathBuf,
    collected: Collected,
    meta: parse::TraceMeta,
    /// Synthetic graph nodes, and the node of each graph-replayed kernel (set by
    /// [`KinetoImporter::link`]).
    graphs: Matched,
    /// Module ranges of other files of the run around the captures this file's
    /// replays matched ([`link`]).
    borrowed_modules: Vec<ModuleRange>,
}

impl KinetoImporter {
    /// Reads the trace at `path` once (progress counts events).
    pub fn load(
        path: &Path,
        survey: &mut Survey,
        progress: &ProgressBar,
    ) -> Result<KinetoImporter> {
        let (mut c, meta) = collect::collect(path, survey, progress)?;
        if c.kernels.is_empty() {
            survey.warn(format!(
                "{}: the trace has no GPU kernels (was the profiler run with CUDA activities?)",
                path.display()
            ));
        }
        c.annotations.sort_by(|a, b| {
            (a.thread, a.start, std::cmp::Reverse(a.end)).cmp(&(
                b.thread,
                b.start,
                std::cmp::Reverse(b.end),
            ))
        });
        // Stable sorts: equal starts keep file order.
        c.kernels.sort_by_key(|k| k.start);
        c.memops.sort_by_key(|m| m.start);
        Ok(KinetoImporter {
            path: path.to_path_buf(),
            collected: c,
            meta,
            graphs: Matched::default(),
            borrowed_modules: Vec::new(),
        })
    }

    /// Matches the graph replays of every file of a run to the stream captures of
    /// all of them (see [`link`]); call once, after loading, before ingesting.
    pub fn link(importers: &mut [KinetoImporter]) {
        link::link(importers)
    }

    /// Every graph launch with the GPU ops (kernels, then memops) of its correlation.
    fn replays(c: &Collected) -> Vec<Replay> {
        let graph_api: Vec<bool> = (0..c.apis.len() as u32)
            .map(|id| is_graph_launch(&c.apis.get(id)))
            .collect();
        let mut by_correlation: HashMap<i64, Replay> = HashMap::new();
        let kernels = c.kernels.iter().enumerate().map(|(i, k)| (k, Some(i)));
        for (event, kernel) in kernels.chain(c.memops.iter().map(|m| (m, None))) {
            let Some(corr) = event.correlation else {
                continue;
            };
            let Some(api) = c.launches.get(&corr) else {
                continue;
            };
            if !graph_api.get(api.api as usize).copied().unwrap_or(false) {
                continue;
            }
            let replay = by_correlation.entry(corr).or_insert_with(|| Replay {
                thread: api.thread,
                start: api.ts,
                ops: Vec::new(),
            });
            replay.ops.push(Op {
                start: event.start,
                stream: event.stream,
                kernel,
            });
        }
        by_correlation.into_values().collect()
    }

    fn launch_of(c: &Collected, event: &GpuEvent) -> Option<Launch> {
        let api = event.correlation.and_then(|corr| c.launches.get(&corr))?;
        Some(Launch {
            thread: Some(api.thread),
            start: Some(api.ts),
            api: Some(c.apis.get(api.api)),
        })
    }
}

/// The annotations (sorted by thread, start, longest first) that are step labels
/// and enclose another step label on their thread.
fn label_wrappers(annotations: &[collect::Annotation]) -> BTreeSet<usize> {
    let mut wrappers = BTreeSet::new();
    let mut open: Vec<usize> = Vec::new();
    for (index, a) in annotations.iter().enumerate() {
        if !matches!(Label::check(&a.name), Ok(Some(_))) {
            continue;
        }
        open.retain(|&o| {
            let outer = &annotations[o];
            outer.thread == a.thread && outer.end >= a.start
        });
        for &outer in &open {
            if annotations[outer].end >= a.end {
                wrappers.insert(outer);
            }
        }
        open.push(index);
    }
    wrappers
}

impl Importer for KinetoImporter {
    fn path(&self) -> &Path {
        &self.path
    }

    fn format(&self) -> &'static str {
        "kineto"
    }

    fn nvtx(&self, _survey: &mut Survey, sink: Sink<NvtxRecord>) -> Result<()> {
        let c = &self.collected;
        let wrappers = label_wrappers(&c.annotations);
        for (index, a) in c.annotations.iter().enumerate() {
            let record = NvtxRecord {
                wraps_label: wrappers.contains(&index),
                thread: a.thread,
                pid: process_of(a.thread),
                tid: a.thread & 0xFF_FFFF,
                start: a.start,
                end: Some(a.end),
                kind: "annotation",
                text: Some(a.name.clone()),
                domain_id: None,
            };
            if !sink(record)? {
                break;
            }
        }
        Ok(())
    }

    fn kernel_chunks(
        &self,
        order: KernelOrder,
        _wanted: i64,
        _max_rows: i64,
    ) -> Result<Vec<Chunk>> {
        Ok(vec![Chunk {
            index: 0,
            rows: None,
            order,
        }])
    }

    fn kernels(
        &self,
        _chunk: &Chunk,
        _survey: &mut Survey,
        sink: Sink<KernelRecord>,
    ) -> Result<()> {
        let c = &self.collected;
        for (i, k) in c.kernels.iter().enumerate() {
            let launch = Self::launch_of(c, k);
            let thread = launch.as_ref().and_then(|l| l.thread);
            let api = launch.as_ref().and_then(|l| l.api.as_deref());
            let record = KernelRecord {
                device: k.device,
                pid: thread.map_or(0, process_of),
                tid: thread.map(|t| t & 0xFF_FFFF),
                stream: k.stream,
                correlation_id: k.correlation,
                start: k.start,
                end: k.end,
                name: c.names.short(k.name),
                demangled: c.names.get(k.name),
                name_key: (i64::from(k.name), i64::from(k.name)),
                from_graph: api.is_some_and(is_graph_launch),
                graph_node_id: None,
                capture_node: self.graphs.kernels.get(&i).copied(),
                grid: k.grid.map(|v| v as i32),
                block: k.block.map(|v| v as i32),
                registers: k.registers as i32,
                shared_static_bytes: 0,
                shared_dynamic_bytes: k.shared as i32,
                launch,
            };
            if !sink(record)? {
                break;
            }
        }
        Ok(())
    }

    fn memops(&self, _survey: &mut Survey, sink: Sink<MemopRecord>) -> Result<()> {
        let c = &self.collected;
        for m in &c.memops {
            let launch = Self::launch_of(c, m);
            let thread = launch.as_ref().and_then(|l| l.thread);
            let name = c.names.get(m.name);
            let code = name
                .strip_prefix("Memcpy ")
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("Unknown");
            let record = MemopRecord {
                device: m.device,
                pid: thread.map_or(0, process_of),
                tid: thread.map(|t| t & 0xFF_FFFF),
                stream: m.stream,
                correlation_id: m.correlation,
                start: m.start,
                end: m.end,
                kind: if m.is_memset { "memset" } else { "memcpy" },
                copy_kind: (!m.is_memset).then(|| code.to_string()),
                bytes: m.bytes,
                name: name.to_string(),
                launched_by: "api",
                launch,
            };
            if !sink(record)? {
                break;
            }
        }
        Ok(())
    }

    fn facts(&self, devices: &BTreeSet<i32>) -> Result<RunFacts> {
        let meta = &self.meta;
        let used: BTreeSet<String> = meta
            .devices
            .iter()
            .filter(|d| d.id.is_some_and(|id| devices.contains(&(id as i32))))
            .filter_map(|d| d.name.clone())
            .collect();
        Ok(RunFacts {
            nsys_version: None,
            schema_version: meta.schema_version.clone(),
            gpu_names: used,
            host_gpus: Some(meta.devices.len() as i32),
            cuda_driver_version: meta.cuda_driver_version.clone(),
            cuda_graph_trace: None,
            rank: meta
                .distributed
                .as_ref()
                .and_then(|d| d.rank)
                .or_else(|| rank_from_file_name(&self.path)),
            trace_id: meta.trace_id.clone(),
        })
    }

    /// PyTorch's `nn.Module` events; the pipeline prefers the harness's `module:`
    /// annotations (among the NVTX rows) when the trace has any.
    fn module_ranges(&self) -> Result<Vec<ModuleRange>> {
        Ok(self
            .collected
            .torch_modules
            .iter()
            .map(|m| ModuleRange {
                thread: m.thread,
                start: m.start,
                end: m.end,
                text: m.name.clone(),
            })
            .collect())
    }

    fn borrowed_module_ranges(&self) -> Vec<ModuleRange> {
        self.borrowed_modules.clone()
    }

    /// One synthetic creation event per launch call issued during a stream capture.
    fn graph_nodes(&self) -> Result<Option<Vec<GraphNodeEvent>>> {
        Ok(Some(self.graphs.nodes.clone()))
    }

    fn fallback_phase(&self) -> Option<&'static str> {
        phase_from_file_name(&self.path)
    }
}
