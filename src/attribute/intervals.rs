//! Interval arithmetic for GPU time: busy (union), communication hidden under
//! compute, idle.
//!
//! Intervals are half-open `[start, end)` in ns, so back-to-back kernels neither
//! overlap nor leave a gap. [`Union`] is a streaming accumulator: feed it intervals
//! in non-decreasing start order (the importers read kernels ordered by start) and
//! it keeps O(1) state. Overlap comes from the identity
//! `|comm ∩ compute| = |comm| + |compute| - |comm ∪ compute|`, so three unions give
//! hidden and exposed communication exactly, without storing any interval.
//!
//! Parallel ingest reads kernels in consecutive chunks: each chunk accumulates a
//! [`GpuTimePart`] (its intervals coalesced into disjoint runs), and the parts are
//! absorbed into one [`GpuTime`] in chunk order. That is exact: pushing a chunk's
//! coalesced runs gives the same union as pushing its intervals one by one, so the
//! result equals the single-threaded one (property-tested below).

/// Length of the union of intervals fed in non-decreasing start order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Union {
    open: Option<(i64, i64)>,
    closed: i64,
}

impl Union {
    /// Adds `[start, end)`. `start` must not precede the previous interval's start.
    pub fn push(&mut self, start: i64, end: i64) {
        let end = end.max(start);
        match &mut self.open {
            Some((_, open_end)) if start <= *open_end => *open_end = (*open_end).max(end),
            Some((open_start, open_end)) => {
                self.closed += *open_end - *open_start;
                self.open = Some((start, end));
            }
            None => self.open = Some((start, end)),
        }
    }

    /// Total covered length so far.
    pub fn len(&self) -> i64 {
        self.closed + self.open.map_or(0, |(s, e)| e - s)
    }

    /// True when nothing has been covered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Union {
    /// Adds the runs of a later chunk: every run starts at or after every interval
    /// pushed so far.
    pub fn absorb(&mut self, part: &UnionPart) {
        for &(start, end) in &part.runs {
            self.push(start, end);
        }
    }
}

/// The union of one chunk's intervals (fed in non-decreasing start order), kept as
/// disjoint runs so it can be absorbed exactly into a [`Union`] of earlier chunks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UnionPart {
    runs: Vec<(i64, i64)>,
}

impl UnionPart {
    /// Adds `[start, end)`, extending the last run when it overlaps or touches.
    pub fn push(&mut self, start: i64, end: i64) {
        let end = end.max(start);
        match self.runs.last_mut() {
            Some((_, last_end)) if start <= *last_end => *last_end = (*last_end).max(end),
            _ => self.runs.push((start, end)),
        }
    }
}

/// Union length of intervals in any order (sorts a copy).
pub fn union_len(intervals: &[(i64, i64)]) -> i64 {
    let mut sorted = intervals.to_vec();
    sorted.sort_unstable();
    let mut union = Union::default();
    for (s, e) in sorted {
        union.push(s, e);
    }
    union.len()
}

/// Busy, communication and overlap time of one group of GPU activities (a step on
/// a device, or a whole device), fed in non-decreasing start order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GpuTime {
    all: Union,
    comm: Union,
    compute: Union,
    /// Earliest start and latest end seen.
    pub span: Option<(i64, i64)>,
    /// Summed durations (counts concurrent work twice).
    pub summed_ns: i64,
    /// Number of activities.
    pub count: i64,
}

impl GpuTime {
    /// Adds one activity; `is_comm` marks communication kernels.
    pub fn push(&mut self, start: i64, end: i64, is_comm: bool) {
        self.all.push(start, end);
        if is_comm {
            self.comm.push(start, end);
        } else {
            self.compute.push(start, end);
        }
        self.span = Some(match self.span {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
        self.summed_ns += end - start;
        self.count += 1;
    }

    /// Time the GPU ran anything.
    pub fn busy_ns(&self) -> i64 {
        self.all.len()
    }

    /// Time communication kernels ran.
    pub fn comm_ns(&self) -> i64 {
        self.comm.len()
    }

    /// Communication time that overlapped compute.
    pub fn comm_hidden_ns(&self) -> i64 {
        self.comm.len() + self.compute.len() - self.all.len()
    }

    /// Communication time with no compute running beside it.
    pub fn comm_exposed_ns(&self) -> i64 {
        self.comm_ns() - self.comm_hidden_ns()
    }

    /// Span minus busy: time inside the group's extent with nothing running.
    pub fn idle_ns(&self) -> i64 {
        self.span.map_or(0, |(s, e)| e - s) - self.busy_ns()
    }
}

/// One chunk's share of a [`GpuTime`]; see the module docs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GpuTimePart {
    all: UnionPart,
    comm: UnionPart,
    compute: UnionPart,
    span: Option<(i64, i64)>,
    summed_ns: i64,
    count: i64,
}

impl GpuTimePart {
    /// Adds one activity, as [`GpuTime::push`].
    pub fn push(&mut self, start: i64, end: i64, is_comm: bool) {
        self.all.push(start, end);
        if is_comm {
            self.comm.push(start, end);
        } else {
            self.compute.push(start, end);
        }
        self.span = Some(match self.span {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
        self.summed_ns += end - start;
        self.count += 1;
    }
}

impl GpuTime {
    /// Adds a later chunk's activities: every one starts at or after every
    /// activity pushed so far.
    pub fn absorb(&mut self, part: &GpuTimePart) {
        self.all.absorb(&part.all);
        self.comm.absorb(&part.comm);
        self.compute.absorb(&part.compute);
        if let Some((start, end)) = part.span {
            self.span = Some(match self.span {
                Some((s, e)) => (s.min(start), e.max(end)),
                None => (start, end),
            });
        }
        self.summed_ns += part.summed_ns;
        self.count += part.count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed(items: &[(i64, i64, bool)]) -> GpuTime {
        let mut sorted = items.to_vec();
        sorted.sort_unstable();
        let mut time = GpuTime::default();
        for (s, e, c) in sorted {
            time.push(s, e, c);
        }
        time
    }

    #[test]
    fn back_to_back_has_no_overlap_and_no_gap() {
        let t = feed(&[(0, 10, false), (10, 20, true)]);
        assert_eq!((t.busy_ns(), t.comm_hidden_ns(), t.idle_ns()), (20, 0, 0));
        assert_eq!(t.comm_exposed_ns(), 10);
    }

    #[test]
    fn comm_partly_hidden_under_compute() {
        // compute [0,100) and [150,200); all-reduce [80,160) on another stream.
        let t = feed(&[(0, 100, false), (80, 160, true), (150, 200, false)]);
        assert_eq!(t.busy_ns(), 200);
        assert_eq!(t.comm_ns(), 80);
        assert_eq!(t.comm_hidden_ns(), 30);
        assert_eq!(t.comm_exposed_ns(), 50);
        assert_eq!(t.summed_ns, 230);
    }

    #[test]
    fn gaps_are_idle() {
        let t = feed(&[(0, 10, false), (30, 40, false), (35, 38, false)]);
        assert_eq!((t.busy_ns(), t.idle_ns(), t.count), (20, 20, 3));
    }

    proptest! {
        #[test]
        fn agrees_with_per_nanosecond_reference(
            items in prop::collection::vec((0i64..100, 0i64..30, any::<bool>()), 0..25)
        ) {
            let items: Vec<(i64, i64, bool)> = items.iter().map(|&(s, l, c)| (s, s + l, c)).collect();
            let t = feed(&items);
            let covered = |pred: &dyn Fn(&(i64, i64, bool)) -> bool, ns: i64| {
                items.iter().any(|i| pred(i) && i.0 <= ns && ns < i.1)
            };
            let (mut busy, mut comm, mut hidden) = (0, 0, 0);
            for ns in 0..140 {
                let c = covered(&|i| i.2, ns);
                let k = covered(&|i| !i.2, ns);
                busy += (c || k) as i64;
                comm += c as i64;
                hidden += (c && k) as i64;
            }
            prop_assert_eq!(t.busy_ns(), busy);
            prop_assert_eq!(t.comm_ns(), comm);
            prop_assert_eq!(t.comm_hidden_ns(), hidden);
            prop_assert_eq!(union_len(&items.iter().map(|i| (i.0, i.1)).collect::<Vec<_>>()), busy);
        }

        /// Chunked accumulation merges to exactly the single-threaded state, wherever
        /// the chunk boundaries fall (including empty chunks and equal starts).
        #[test]
        fn chunks_absorbed_in_order_equal_one_pass(
            items in prop::collection::vec((0i64..200, 0i64..40, any::<bool>()), 0..60),
            cuts in prop::collection::vec(0usize..61, 0..8),
        ) {
            let mut sorted: Vec<(i64, i64, bool)> =
                items.iter().map(|&(s, l, c)| (s, s + l, c)).collect();
            sorted.sort_by_key(|i| i.0);
            let mut whole = GpuTime::default();
            for &(s, e, c) in &sorted {
                whole.push(s, e, c);
            }
            let mut bounds: Vec<usize> = cuts.iter().map(|c| (*c).min(sorted.len())).collect();
            bounds.push(0);
            bounds.push(sorted.len());
            bounds.sort_unstable();
            let mut merged = GpuTime::default();
            for pair in bounds.windows(2) {
                let mut part = GpuTimePart::default();
                for &(s, e, c) in &sorted[pair[0]..pair[1]] {
                    part.push(s, e, c);
                }
                merged.absorb(&part);
            }
            prop_assert_eq!(merged, whole);
        }
    }
}
