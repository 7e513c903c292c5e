//! What the kernel and memop passes accumulate for the summary and the `steps`
//! and `runs` tables — the same for every importer.
//!
//! Kernels are read in consecutive chunks, possibly on several threads: each chunk
//! fills a [`ChunkStats`] (per (step, device) a [`GpuTimePart`]), and the chunks are
//! absorbed into the input's [`KernelStats`] in chunk order, which is exact (see
//! [`crate::attribute::intervals`]). Counts and sums merge by addition.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::attribute::intervals::{GpuTime, GpuTimePart};
use crate::attribute::rules::COMMUNICATION;

/// Per (step, device): GPU time and counts, for the `steps` table.
#[derive(Debug, Default, Clone)]
pub struct StepGpu<T> {
    pub time: T,
    pub graph_kernels: i64,
}

/// Kernel counts and GPU time of an input (`T = GpuTime`) or of one chunk of it
/// (`T = GpuTimePart`).
#[derive(Debug, Default)]
pub struct KernelTally<T> {
    pub kernels: u64,
    pub labelled: u64,
    pub kernel_ns: i64,
    pub labelled_ns: i64,
    /// Category → (count, summed ns).
    pub by_category: BTreeMap<&'static str, (u64, i64)>,
    pub devices: BTreeSet<i32>,
    pub per_step: HashMap<(i64, i32), StepGpu<T>>,
}

/// What the kernel pass learned about a whole input.
pub type KernelStats = KernelTally<GpuTime>;

/// What the kernel pass learned about one chunk.
pub type ChunkStats = KernelTally<GpuTimePart>;

/// Memop counts per step.
pub type MemopStats = HashMap<i64, i64>;

impl ChunkStats {
    /// Counts one kernel `[start, end)` of `category` on `device`, in `step` if labelled.
    pub fn record(
        &mut self,
        category: &'static str,
        step: Option<i64>,
        device: i32,
        span: (i64, i64),
        graph: bool,
    ) {
        let (start, end) = span;
        let dur = end - start;
        self.kernels += 1;
        self.kernel_ns += dur;
        let entry = self.by_category.entry(category).or_default();
        entry.0 += 1;
        entry.1 += dur;
        self.devices.insert(device);
        if let Some(step) = step {
            self.labelled += 1;
            self.labelled_ns += dur;
            let group = self.per_step.entry((step, device)).or_default();
            group.time.push(start, end, category == COMMUNICATION);
            group.graph_kernels += i64::from(graph);
        }
    }
}

impl KernelStats {
    /// Adds the next chunk (its kernels start at or after every kernel so far).
    pub fn absorb(&mut self, chunk: ChunkStats) {
        self.kernels += chunk.kernels;
        self.labelled += chunk.labelled;
        self.kernel_ns += chunk.kernel_ns;
        self.labelled_ns += chunk.labelled_ns;
        for (category, (n, ns)) in chunk.by_category {
            let entry = self.by_category.entry(category).or_default();
            entry.0 += n;
            entry.1 += ns;
        }
        self.devices.extend(chunk.devices);
        for (key, part) in chunk.per_step {
            let group = self.per_step.entry(key).or_default();
            group.time.absorb(&part.time);
            group.graph_kernels += part.graph_kernels;
        }
    }
}
