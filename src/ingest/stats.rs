//! What the kernel and memop passes accumulate for the summary and the `steps`
//! and `runs` tables — the same for every importer.
//!
//! Kernels are read in consecutive chunks, possibly on several threads: each chunk
//! fills a [`ChunkStats`] (per (step, device) a [`GpuTimePart`]), and the chunks are
//! absorbed into the input's [`KernelStats`] in chunk order, which is exact (see
//! [`crate::attribute::intervals`]). Counts and sums merge by addition.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::attribute::intervals::{GpuTime, GpuTimePart};
use crate::fast_hash::FastMap;
use crate::ingest::categorize::Fallbacks;
use crate::vocab::COMMUNICATION;

/// Per (step, device): GPU time and counts, for the `steps` table.
#[derive(Debug, Default, Clone)]
pub struct StepGpu<T> {
    pub time: T,
    pub graph_kernels: i64,
}

/// Kernel counts and GPU time of an input (`T = GpuTime`) or of one chunk of it
/// (`T = GpuTimePart`). A chunk fills only `per_step`, `other_by_name`, `fallbacks`
/// and `summary`; the totals, `by_category`, `by_source` and `devices` stay empty
/// there and are derived from its summary cells by [`KernelStats::absorb`].
#[derive(Debug, Default)]
pub struct KernelTally<T> {
    pub kernels: u64,
    pub labelled: u64,
    pub kernel_ns: i64,
    pub labelled_ns: i64,
    /// Category → (count, summed ns).
    pub by_category: BTreeMap<&'static str, (u64, i64)>,
    pub devices: BTreeSet<i32>,
    pub per_step: FastMap<(i64, i32), StepGpu<T>>,
    /// `category_source` → (count, summed ns).
    pub by_source: BTreeMap<&'static str, (u64, i64)>,
    /// Kernel name → summed ns, for kernels left `other`.
    pub other_by_name: FastMap<String, i64>,
    /// CUDA-graph kernels categorised by name instead of module, by reason.
    pub fallbacks: Fallbacks,
    /// Module ranges the input had (set once per input, not per chunk).
    pub module_ranges: u64,
    /// The `step_categories` rows: per [`SummaryKey`], kernels and their time.
    pub summary: FastMap<SummaryKey, SummaryCell>,
}

/// One `step_categories` row's key: the step (none: unlabelled), the device, both
/// categories, where the category came from, and how the kernel was launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SummaryKey {
    pub step: Option<i64>,
    pub device: i32,
    pub category: &'static str,
    pub name_category: &'static str,
    pub source: &'static str,
    pub graph: bool,
}

/// Kernels under one [`SummaryKey`]: how many, their summed time, and the part of it
/// spent in kernels whose module is known.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SummaryCell {
    pub kernels: i64,
    pub gpu_ns: i64,
    pub module_ns: i64,
}

impl SummaryCell {
    fn add(&mut self, other: SummaryCell) {
        self.kernels += other.kernels;
        self.gpu_ns += other.gpu_ns;
        self.module_ns += other.module_ns;
    }
}

/// What the kernel pass learned about a whole input.
pub type KernelStats = KernelTally<GpuTime>;

/// What the kernel pass learned about one chunk.
pub type ChunkStats = KernelTally<GpuTimePart>;

/// Memop counts per step.
pub type MemopStats = HashMap<i64, i64>;

impl ChunkStats {
    /// Counts one kernel `[start, end)` of `category`, labelled `step`, on `device`
    /// into that step's GPU time. Everything else a chunk counts is derived from its
    /// [`ChunkStats::summarize`] cells when it is absorbed.
    pub fn record_step(
        &mut self,
        step: i64,
        device: i32,
        span: (i64, i64),
        category: &str,
        graph: bool,
    ) {
        let group = self.per_step.entry((step, device)).or_default();
        group.time.push(span.0, span.1, category == COMMUNICATION);
        group.graph_kernels += i64::from(graph);
    }

    /// Adds one kernel of `dur` ns to its `step_categories` row: the one count
    /// per kernel the totals, categories, sources and devices are derived from.
    pub fn summarize(&mut self, key: SummaryKey, dur: i64, in_module: bool) {
        self.summary.entry(key).or_default().add(SummaryCell {
            kernels: 1,
            gpu_ns: dur,
            module_ns: if in_module { dur } else { 0 },
        });
    }

    /// Adds `dur` ns to a kernel left `other`, by name (for the ingest warning).
    pub fn record_other(&mut self, name: &str, dur: i64) {
        match self.other_by_name.get_mut(name) {
            Some(ns) => *ns += dur,
            None => {
                self.other_by_name.insert(name.to_string(), dur);
            }
        }
    }
}

impl KernelStats {
    /// Adds the next chunk (its kernels start at or after every kernel so far); its
    /// totals come from its summary cells.
    pub fn absorb(&mut self, chunk: ChunkStats) {
        for (name, ns) in chunk.other_by_name {
            *self.other_by_name.entry(name).or_default() += ns;
        }
        for (reason, n) in chunk.fallbacks {
            *self.fallbacks.entry(reason).or_default() += n;
        }
        for (key, cell) in chunk.summary {
            let (n, ns) = (cell.kernels as u64, cell.gpu_ns);
            self.kernels += n;
            self.kernel_ns += ns;
            if key.step.is_some() {
                self.labelled += n;
                self.labelled_ns += ns;
            }
            let entry = self.by_category.entry(key.category).or_default();
            entry.0 += n;
            entry.1 += ns;
            let entry = self.by_source.entry(key.source).or_default();
            entry.0 += n;
            entry.1 += ns;
            self.devices.insert(key.device);
            self.summary.entry(key).or_default().add(cell);
        }
        for (key, part) in chunk.per_step {
            let group = self.per_step.entry(key).or_default();
            group.time.absorb(&part.time);
            group.graph_kernels += part.graph_kernels;
        }
    }
}
