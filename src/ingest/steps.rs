//! Labelled steps of one input: the CPU-side ranges named by the label convention,
//! indexed per thread so a launch (thread, time) finds its innermost step.
//!
//! Step ids are `base + index` in the order the importer found the ranges; `base`
//! separates the inputs of one run (`input index << 32`), so ids are unique per run
//! and do not depend on thread scheduling.

use std::collections::HashMap;

use crate::attribute::{Label, ThreadRanges};
use crate::fast_hash::FastMap;

/// One labelled step range (a CPU-side NVTX range).
#[derive(Debug, Clone)]
pub struct StepRange {
    pub label: Label,
    /// Thread key: nsys `globalTid`, or `pid << 24 | tid` for Kineto.
    pub thread: i64,
    /// OS process and thread ids of that thread.
    pub pid: i64,
    pub tid: i64,
    pub start: i64,
    pub end: i64,
}

/// The labelled ranges of one export, indexed per thread.
#[derive(Debug, Default)]
pub struct Steps {
    /// Step id of `ranges[0]`; ids are `base + index`.
    pub base: i64,
    pub ranges: Vec<StepRange>,
    by_thread: FastMap<i64, ThreadRanges>,
}

impl Steps {
    /// Indexes `ranges` per thread; ids follow their order.
    pub fn new(base: i64, ranges: Vec<StepRange>) -> Steps {
        let mut per_thread: HashMap<i64, Vec<(i64, i64, u32)>> = HashMap::new();
        for (index, range) in ranges.iter().enumerate() {
            per_thread.entry(range.thread).or_default().push((
                range.start,
                range.end,
                index as u32,
            ));
        }
        let by_thread = per_thread
            .into_iter()
            .map(|(thread, list)| (thread, ThreadRanges::new(list)))
            .collect();
        Steps {
            base,
            ranges,
            by_thread,
        }
    }

    /// Step id of the innermost labelled range on `thread` enclosing time `t`.
    pub fn lookup(&self, thread: i64, t: i64) -> Option<i64> {
        let index = self.by_thread.get(&thread)?.innermost_at(t)?;
        Some(self.base + i64::from(index))
    }

    /// The range of a step id returned by [`Steps::lookup`].
    pub fn range(&self, step: i64) -> Option<&StepRange> {
        usize::try_from(step - self.base)
            .ok()
            .and_then(|i| self.ranges.get(i))
    }
}
