//! What the kernel and memop passes accumulate for the summary and the `steps`
//! and `runs` tables — the same for every importer. O(1) state per (step, device):
//! kernels arrive in start order, so [`GpuTime`] keeps streaming unions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::attribute::intervals::GpuTime;
use crate::attribute::rules::COMMUNICATION;

/// Per (step, device): GPU time and counts, for the `steps` table.
#[derive(Debug, Default, Clone)]
pub struct StepGpu {
    pub time: GpuTime,
    pub graph_kernels: i64,
}

/// What the kernel pass learned, for the summary, `steps` and `runs`.
#[derive(Debug, Default)]
pub struct KernelStats {
    pub kernels: u64,
    pub labelled: u64,
    pub kernel_ns: i64,
    pub labelled_ns: i64,
    /// Category → (count, summed ns).
    pub by_category: BTreeMap<&'static str, (u64, i64)>,
    pub devices: BTreeSet<i32>,
    pub per_step: HashMap<(i64, i32), StepGpu>,
    /// `category_source` → (count, summed ns).
    pub by_source: BTreeMap<&'static str, (u64, i64)>,
    /// Kernel name → summed ns, for kernels left `other`.
    pub other_by_name: HashMap<String, i64>,
    /// Graph kernels categorised by name instead of module, by reason.
    pub fallbacks: crate::ingest::categorize::Fallbacks,
    /// Module ranges the input had.
    pub module_ranges: u64,
}

impl KernelStats {
    /// Counts where one kernel's category came from; `name` is looked up only
    /// when the kernel is `other`.
    pub fn record_source(
        &mut self,
        source: crate::attribute::modules::Source,
        category: &str,
        dur: i64,
        name: impl FnOnce() -> String,
    ) {
        let entry = self.by_source.entry(source.as_str()).or_default();
        entry.0 += 1;
        entry.1 += dur;
        if category == "other" {
            *self.other_by_name.entry(name()).or_default() += dur;
        }
    }
}

/// Memop counts per step.
pub type MemopStats = HashMap<i64, i64>;

impl KernelStats {
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
