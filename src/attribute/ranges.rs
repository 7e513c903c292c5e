//! Innermost enclosing range at a time point, for the ranges of one thread.
//!
//! NVTX push/pop ranges nest strictly, but start/end ranges may overlap arbitrarily,
//! so the index works for any set of closed intervals `[start, end]`:
//!
//! - ranges are sorted by `(start asc, end desc, id desc)`; the *innermost* range
//!   containing `t` is the one latest in that order, i.e. greatest start, then
//!   smallest end, then smallest id (NVIDIA's `nvtx-name` rule, made total);
//! - `parent[i]` is the latest range before `i` that contains `start[i]`.
//!
//! A lookup starts at the last range starting at or before `t` and follows parent
//! links until a range contains `t`; every skipped range provably cannot be the
//! answer, so the result is exact, and for nested ranges the walk is at most the
//! nesting depth. Memory: 28 bytes per range.

const NONE: u32 = u32::MAX;

/// The labelled ranges of one thread, ready for [`ThreadRanges::innermost_at`].
#[derive(Debug, Default, Clone)]
pub struct ThreadRanges {
    starts: Vec<i64>,
    ends: Vec<i64>,
    ids: Vec<u32>,
    parent: Vec<u32>,
}

impl ThreadRanges {
    /// Builds the index from `(start, end, id)` triples, in any order.
    pub fn new(mut ranges: Vec<(i64, i64, u32)>) -> Self {
        ranges.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
        let mut index = ThreadRanges {
            starts: ranges.iter().map(|r| r.0).collect(),
            ends: ranges.iter().map(|r| r.1).collect(),
            ids: ranges.iter().map(|r| r.2).collect(),
            parent: Vec::with_capacity(ranges.len()),
        };
        for i in 0..ranges.len() {
            let candidate = if i == 0 { NONE } else { (i - 1) as u32 };
            let parent = index.walk(candidate, index.starts[i]);
            index.parent.push(parent);
        }
        index
    }

    /// Number of ranges in the index.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the thread has no ranges.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The id of the innermost range with `start <= t <= end`, if any.
    pub fn innermost_at(&self, t: i64) -> Option<u32> {
        let after = self.starts.partition_point(|&s| s <= t);
        if after == 0 {
            return None;
        }
        match self.walk((after - 1) as u32, t) {
            NONE => None,
            position => Some(self.ids[position as usize]),
        }
    }

    /// Follows parent links from `position` until a range ends at or after `t`.
    fn walk(&self, mut position: u32, t: i64) -> u32 {
        while position != NONE && self.ends[position as usize] < t {
            position = self.parent[position as usize];
        }
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute_force(ranges: &[(i64, i64, u32)], t: i64) -> Option<u32> {
        ranges
            .iter()
            .filter(|r| r.0 <= t && t <= r.1)
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)))
            .map(|r| r.2)
    }

    #[test]
    fn nested_and_sibling_ranges() {
        // outer [0,100] holds steps [10,20] and [30,40]; [32,35] nests in the second.
        let ranges = vec![(0, 100, 0), (10, 20, 1), (30, 40, 2), (32, 35, 3)];
        let index = ThreadRanges::new(ranges);
        assert_eq!(index.innermost_at(-1), None);
        assert_eq!(index.innermost_at(5), Some(0));
        assert_eq!(index.innermost_at(10), Some(1));
        assert_eq!(index.innermost_at(20), Some(1));
        assert_eq!(index.innermost_at(25), Some(0));
        assert_eq!(index.innermost_at(33), Some(3));
        assert_eq!(index.innermost_at(38), Some(2));
        assert_eq!(index.innermost_at(101), None);
    }

    #[test]
    fn overlapping_start_end_ranges() {
        // [0,50] and [20,80] overlap without nesting: at 60 only the second holds.
        let index = ThreadRanges::new(vec![(0, 50, 7), (20, 80, 8), (55, 58, 9)]);
        assert_eq!(index.innermost_at(30), Some(8));
        assert_eq!(index.innermost_at(56), Some(9));
        assert_eq!(index.innermost_at(60), Some(8));
        assert_eq!(index.innermost_at(10), Some(7));
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            raw in prop::collection::vec((0i64..200, 0i64..60), 0..40),
            probes in prop::collection::vec(-5i64..270, 1..40),
        ) {
            let ranges: Vec<(i64, i64, u32)> = raw
                .iter()
                .enumerate()
                .map(|(i, &(s, len))| (s, s + len, i as u32))
                .collect();
            let mut shuffled = ranges.clone();
            shuffled.reverse();
            let index = ThreadRanges::new(shuffled);
            for t in probes {
                prop_assert_eq!(index.innermost_at(t), brute_force(&ranges, t));
            }
        }
    }
}
