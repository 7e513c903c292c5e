//! The one importer shape: every input format implements [`Importer`], which turns
//! one input into the shared records below; the pipeline alone labels steps,
//! attributes, categorises, sums steps and writes tables.
//!
//! Invariants every importer keeps:
//! - [`Importer::nvtx`] yields CPU ranges and marks in `(thread, start, end desc)`
//!   order, so the pipeline's nesting stack and step numbering are the same for every
//!   format (step ids follow this order).
//! - [`Importer::kernel_chunks`] splits the kernels into chunks whose concatenation,
//!   in chunk order, is every kernel in non-decreasing start order when the chunks
//!   were asked [`KernelOrder::ByStart`]; asked [`KernelOrder::AsStored`], the
//!   pipeline checks the order and asks again `ByStart` if it was not.
//! - Records carry resolved output values (pid, tid, names) plus what attribution
//!   needs: the launching CUDA API call ([`Launch`]: thread, start, API name) and,
//!   for CUDA-graph nodes, the node id that [`Importer::graph_nodes`] maps to its
//!   capture (the input's own, or one the importer synthesised, kept apart from
//!   the written `graph_node_id`).
//! - Times are ns on the input's clock; impossible ones are skipped by the pipeline
//!   through [`crate::ingest::sanity`], never clamped.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crate::attribute::module_index::{GraphMiss, GraphNodeEvent, ModuleRange};
use crate::error::Result;
use crate::ingest::survey::Survey;

/// The CUDA API call that launched a kernel or memop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The launching thread: nsys `globalTid` of the runtime call; Kineto
    /// `pid << 24 | tid` of the `cuda_runtime` event. Steps are looked up on it.
    pub thread: Option<i64>,
    /// Start of the API call, ns.
    pub start: Option<i64>,
    /// API name without its CUPTI version suffix (`cudaLaunchKernel`).
    pub api: Option<Arc<str>>,
}

/// One GPU kernel, before attribution.
#[derive(Debug, Clone)]
pub struct KernelRecord {
    pub device: i32,
    /// OS process id of the launching process (0 when unknown).
    pub pid: i64,
    /// OS thread id of the launching thread, when the launch is known.
    pub tid: Option<i64>,
    pub stream: i64,
    pub correlation_id: Option<i64>,
    pub start: i64,
    pub end: i64,
    /// Base name (nsys `shortName`).
    pub name: Arc<str>,
    pub demangled: Arc<str>,
    /// Ids of (name, demangled) within this input: the same id is always the same
    /// text. For memoised categorisation and the dictionary columns.
    pub name_key: (i64, i64),
    /// Replayed from a CUDA graph (nsys: a graph node id; Kineto: launched by
    /// `cudaGraphLaunch`).
    pub from_graph: bool,
    /// nsys `graphNodeId` (null for Kineto and for stream launches).
    pub graph_node_id: Option<i64>,
    /// Kineto graph replays: the synthetic node of [`Importer::graph_nodes`] the
    /// kernel was matched to by capture order, or why none. For the module lookup
    /// only, never written (`graph_node_id` stays null); `None` elsewhere.
    pub capture_node: Option<Result<i64, GraphMiss>>,
    pub grid: [i32; 3],
    pub block: [i32; 3],
    pub registers: i32,
    pub shared_static_bytes: i32,
    pub shared_dynamic_bytes: i32,
    pub launch: Option<Launch>,
}

impl KernelRecord {
    /// The graph node whose creation event gives this graph kernel's module: the
    /// input's own node id, else the importer's synthetic one.
    pub fn graph_node(&self) -> Result<i64, GraphMiss> {
        match (self.graph_node_id, self.capture_node) {
            (Some(node), _) => Ok(node),
            (None, Some(found)) => found,
            (None, None) => Err(GraphMiss::NoNodeEvents),
        }
    }
}

/// One memcpy or memset, before attribution.
#[derive(Debug, Clone)]
pub struct MemopRecord {
    pub device: i32,
    pub pid: i64,
    pub tid: Option<i64>,
    pub stream: i64,
    pub correlation_id: Option<i64>,
    pub start: i64,
    pub end: i64,
    /// `memcpy` or `memset`.
    pub kind: &'static str,
    /// `HtoD`, `DtoD`, … (memcpy only).
    pub copy_kind: Option<String>,
    pub bytes: i64,
    pub name: String,
    /// `api` or `graph`.
    pub launched_by: &'static str,
    pub launch: Option<Launch>,
}

/// One CPU range or mark (NVTX event, PyTorch `user_annotation`).
#[derive(Debug, Clone)]
pub struct NvtxRecord {
    /// Thread key, as [`Launch::thread`] (0 when the export has none).
    pub thread: i64,
    pub pid: i64,
    pub tid: i64,
    pub start: i64,
    pub end: Option<i64>,
    /// `push_pop`, `start_end`, `annotation` (ranges), `mark`, … (see `docs/SCHEMA.md`).
    pub kind: &'static str,
    pub text: Option<String>,
    pub domain_id: Option<i64>,
    /// A labelled range that encloses another labelled range on its thread (Kineto:
    /// TraceLens's `execute_…` around SGLang's own `step[…]`): a wrapper, so the
    /// inner one is the step. Always false for nsys, whose rows stream unsorted.
    pub wraps_label: bool,
}

impl NvtxRecord {
    /// Ranges nest and can label a step; marks and the rest cannot.
    pub fn is_range(&self) -> bool {
        matches!(self.kind, "push_pop" | "start_end" | "annotation")
    }
}

/// Whitelisted facts about one input, for the `runs` table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunFacts {
    pub nsys_version: Option<String>,
    pub schema_version: Option<String>,
    /// GPU model names of the devices that ran kernels (or of the host if unknown).
    pub gpu_names: BTreeSet<String>,
    pub host_gpus: Option<i32>,
    pub cuda_driver_version: Option<String>,
    /// `Node` or `Graph` (`--cuda-graph-trace`).
    pub cuda_graph_trace: Option<String>,
    /// Rank the input itself declares (Kineto distributed info or file name).
    pub rank: Option<i64>,
    /// Kineto trace id, to spot the same trace given twice.
    pub trace_id: Option<String>,
}

/// How the kernels of one input may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelOrder {
    /// As stored (nsys exports kernels sorted by start): no sort, chunks may be read
    /// in parallel; the pipeline verifies the order.
    AsStored,
    /// Sorted by start by the importer: always valid, costs a sort.
    ByStart,
}

/// A contiguous slice of an input's kernels (nsys: a rowid range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position of the chunk; chunks are consumed in this order.
    pub index: usize,
    /// Inclusive row range, or `None` for all rows.
    pub rows: Option<(i64, i64)>,
    pub order: KernelOrder,
}

/// Receives records; returning `Ok(false)` stops the reader early.
pub type Sink<'a, T> = &'a mut dyn FnMut(T) -> Result<bool>;

/// One input format. Methods take `&self` so passes can run concurrently; each
/// reports whole-input observations (missing tables) to its `survey`.
pub trait Importer: Send + Sync {
    /// The input file.
    fn path(&self) -> &Path;

    /// `nsys-sqlite` or `kineto` (the `runs.source_format` value).
    fn format(&self) -> &'static str;

    /// CPU ranges and marks, in `(thread, start, end desc)` order.
    fn nvtx(&self, survey: &mut Survey, sink: Sink<NvtxRecord>) -> Result<()>;

    /// Row counts of the NVTX, kernel and memop passes, for progress bars only
    /// (0 when unknown).
    fn nvtx_rows(&self) -> Result<u64> {
        Ok(0)
    }

    /// See [`Importer::nvtx_rows`].
    fn kernel_rows(&self) -> Result<u64> {
        Ok(0)
    }

    /// See [`Importer::nvtx_rows`].
    fn memop_rows(&self) -> Result<u64> {
        Ok(0)
    }

    /// Work before the GPU passes that may run beside the NVTX pass (nsys: index
    /// the CUDA API calls once for the launch join).
    fn prepare(&self, _survey: &mut Survey) -> Result<()> {
        Ok(())
    }

    /// The kernel chunks, in order, for `order`: about `wanted` of them (the
    /// pipeline asks for a few per worker thread), of at most `max_rows` kernels
    /// each where the format allows (it bounds the memory of rows in flight).
    fn kernel_chunks(&self, order: KernelOrder, wanted: i64, max_rows: i64) -> Result<Vec<Chunk>>;

    /// The kernels of `chunk`, in its order.
    fn kernels(&self, chunk: &Chunk, survey: &mut Survey, sink: Sink<KernelRecord>) -> Result<()>;

    /// Every memcpy and memset.
    fn memops(&self, survey: &mut Survey, sink: Sink<MemopRecord>) -> Result<()>;

    /// Run facts; `devices` are the device ids that ran kernels.
    fn facts(&self, devices: &BTreeSet<i32>) -> Result<RunFacts>;

    /// Model-module ranges that are not among [`Importer::nvtx`]'s rows (PyTorch's
    /// own `nn.Module` events in a Kineto trace). The pipeline uses them only when
    /// the NVTX rows hold no module range.
    fn module_ranges(&self) -> Result<Vec<ModuleRange>> {
        Ok(Vec::new())
    }

    /// Module ranges another input of the run recorded around the graph captures
    /// this input's replays matched (Kineto captures profiled in another file);
    /// used for module lookup whichever module source the input itself has.
    fn borrowed_module_ranges(&self) -> Vec<ModuleRange> {
        Vec::new()
    }

    /// CUDA-graph node creation events (nsys `CUDA_GRAPH_NODE_EVENTS`; Kineto: one
    /// per capture launch, synthesised), or `None` when the input records none (then
    /// graph kernels fall back to names, counted).
    fn graph_nodes(&self) -> Result<Option<Vec<GraphNodeEvent>>> {
        Ok(None)
    }

    /// The phase of every row when the input has no labelled step (SGLang's
    /// `-DECODE` stage in a Kineto file name).
    fn fallback_phase(&self) -> Option<&'static str> {
        None
    }
}
