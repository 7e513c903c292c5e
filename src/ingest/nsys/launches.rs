//! The launch join, done in Rust: every CUDA API call with a correlation id,
//! indexed by (process, correlationId), so kernels and memops find the call that
//! launched them without asking SQLite for a join.
//!
//! The API table is read by plain column scans over rowid ranges, on one read-only
//! connection per range, in parallel ([`super::super::ordered`]); each range comes
//! back as entries already packed and keyed, and the index is their concatenation
//! in rowid order — sorted by key, a stable sort only when the table was not
//! already (several processes interleaved). So when a key repeats the lowest rowid
//! wins (what SQLite's join returned first) and the repeats are counted, whatever
//! the thread count. A lookup is a binary search; [`Cursor`] remembers where the
//! last one landed, so a chunk of kernels in start order (correlation ids rising)
//! finds each call in a step or two.
//!
//! Memory: 32 bytes per call in the table (the key, the start, thread and API-name
//! ids); ~150 MB for 4.7 M calls. Keys that do not pack (a correlation id beyond 32
//! bits, more than 2^31 processes) go to a plain map beside it.

use rayon::slice::ParallelSliceMut;

use super::export::{NsysExport, RUNTIME};
use super::ids::PROCESS_MASK;
use super::strings::Names;
use crate::error::Result;
use crate::fast_hash::FastMap;
use crate::ingest::importer::Launch;
use crate::ingest::ordered::map_in_order;
use crate::ingest::survey::Survey;
use crate::stage_timing::{self, Busy};

/// Rowids per scan range of the API table.
const ROWS_PER_RANGE: i64 = 256 * 1024;

/// What the index keeps of one API call, unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCall {
    pub global_tid: Option<i64>,
    pub start: Option<i64>,
    /// `StringIds` id of the API name.
    pub name_id: Option<i64>,
}

/// Stands for a null column in an [`Entry`] (no real value is `i64::MIN`).
const NULL: i64 = i64::MIN;

/// One API call in the index: its packed key and what a launch needs, nulls as
/// [`NULL`] (32 bytes).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// `process slot << 32 | correlationId`.
    key: u64,
    global_tid: i64,
    start: i64,
    name_id: i64,
}

impl Entry {
    fn new(key: u64, call: ApiCall) -> Entry {
        Entry {
            key,
            global_tid: call.global_tid.unwrap_or(NULL),
            start: call.start.unwrap_or(NULL),
            name_id: call.name_id.unwrap_or(NULL),
        }
    }

    fn call(&self) -> ApiCall {
        let value = |v: i64| (v != NULL).then_some(v);
        ApiCall {
            global_tid: value(self.global_tid),
            start: value(self.start),
            name_id: value(self.name_id),
        }
    }
}

/// Where the last lookup of a reader landed (one per chunk reader).
#[derive(Debug, Default, Clone, Copy)]
pub struct Cursor(usize);

/// API calls by (process, correlationId).
#[derive(Debug, Default)]
pub struct LaunchIndex {
    /// Keyed by process: `globalTid & PROCESS_MASK`; else every process is 0.
    by_process: bool,
    /// Sorted by key; the first of equal keys only.
    entries: Vec<Entry>,
    /// Calls whose key does not pack, first one per key.
    wide: FastMap<(i64, i64), ApiCall>,
    /// Extra calls per key beyond the first (rare).
    repeats: FastMap<(i64, i64), u32>,
    /// Process slots, in order of first appearance (few: one per rank).
    processes: Vec<i64>,
}

/// One range's scan: entries in rowid order keyed by the range's own process
/// slots (`processes`), and the calls that did not pack. Both stores fill it through
/// [`Scanned::push`].
#[derive(Default)]
pub struct Scanned {
    entries: Vec<Entry>,
    processes: Vec<i64>,
    wide: Vec<((i64, i64), ApiCall)>,
    /// Rows of one thread come in runs: the last thread's process slot.
    last_thread: Option<(Option<i64>, usize)>,
}

impl Scanned {
    /// Room for `rows` calls.
    pub fn with_capacity(rows: usize) -> Scanned {
        Scanned {
            entries: Vec::with_capacity(rows),
            ..Scanned::default()
        }
    }

    /// Adds one API call with a correlation id, in stored order.
    pub fn push(&mut self, by_process: bool, correlation: i64, call: ApiCall) {
        let global_tid = call.global_tid;
        let process = if by_process {
            global_tid.map_or(0, |t| t & PROCESS_MASK)
        } else {
            0
        };
        let slot = match self.last_thread {
            Some((thread, slot)) if thread == global_tid => slot,
            _ => {
                let slot = match self.processes.iter().position(|&p| p == process) {
                    Some(slot) => slot,
                    None => {
                        self.processes.push(process);
                        self.processes.len() - 1
                    }
                };
                self.last_thread = Some((global_tid, slot));
                slot
            }
        };
        match key(slot, correlation) {
            Some(key) => self.entries.push(Entry::new(key, call)),
            None => self.wide.push(((process, correlation), call)),
        }
    }
}

impl LaunchIndex {
    /// Scans the API table of `export`; `by_process` keys calls by their process.
    pub fn build(export: &NsysExport, by_process: bool) -> Result<LaunchIndex> {
        let Some((first, last)) = export.rowid_bounds(RUNTIME)? else {
            return Ok(LaunchIndex {
                by_process,
                ..LaunchIndex::default()
            });
        };
        let span = last.saturating_sub(first).saturating_add(1);
        let mut per_range = ROWS_PER_RANGE;
        let mut rows = span;
        // Rowids far apart (found by fuzzing: 60 API rows up to rowid 2.4e10 took 35 s
        // of empty range scans, and a reservation of 2^26 entries): size the ranges by
        // the row count instead. A dense table never pays for the count below this.
        if span / per_range > 1024 {
            if let Some(sparse) = export.sparse_rows(RUNTIME, span)? {
                rows = sparse;
                let ranges_wanted = (rows / ROWS_PER_RANGE).saturating_add(1);
                per_range = per_range.max(span / ranges_wanted);
            }
        }
        let ranges: Vec<(i64, i64)> = (0..=last.saturating_sub(first) / per_range)
            .map(|i| {
                let lo = first.saturating_add(i.saturating_mul(per_range));
                (lo, lo.saturating_add(per_range - 1).min(last))
            })
            .collect();
        let input = export.path.display().to_string();
        LaunchIndex::assemble(by_process, &ranges, rows, &input, |range| {
            scan(export, *range, by_process)
        })
    }

    /// The index of the calls `scan` reads from each of `ranges` (in stored order,
    /// scanned in parallel, joined in order); `rows` sizes the reservation.
    pub fn assemble<R: Sync>(
        by_process: bool,
        ranges: &[R],
        rows: i64,
        input: &str,
        scan: impl Fn(&R) -> Result<Scanned> + Sync,
    ) -> Result<LaunchIndex> {
        let mut index = LaunchIndex {
            by_process,
            ..LaunchIndex::default()
        };
        index.entries.reserve(rows.clamp(0, 1 << 26) as usize);
        let mut sorted = true;
        let scanning = Busy::default();
        map_in_order(
            ranges,
            |range| scanning.time(|| scan(range)),
            |mut scanned: Scanned| {
                index.rekey(&mut scanned);
                let joins_in_order = match (index.entries.last(), scanned.entries.first()) {
                    (Some(last), Some(next)) => last.key <= next.key,
                    _ => true,
                };
                sorted &= joins_in_order && is_sorted(&scanned.entries);
                index.entries.extend_from_slice(&scanned.entries);
                for (key, call) in scanned.wide {
                    index.note_wide(key, call);
                }
                Ok(true)
            },
        )?;
        let started = std::time::Instant::now();
        if !sorted {
            // Stable: among equal keys the lowest rowid stays first.
            index.entries.par_sort_by_key(|e| e.key);
        }
        index.drop_repeats();
        stage_timing::report(
            input,
            "launch index: API scans (summed over threads)",
            scanning.total(),
        );
        stage_timing::report(input, "launch index: sort and dedupe", started.elapsed());
        Ok(index)
    }

    /// Turns the range's own process slots into the index's.
    fn rekey(&mut self, scanned: &mut Scanned) {
        let slots: Vec<u64> = scanned
            .processes
            .iter()
            .map(|&p| match self.processes.iter().position(|&q| q == p) {
                Some(slot) => slot as u64,
                None => {
                    self.processes.push(p);
                    (self.processes.len() - 1) as u64
                }
            })
            .collect();
        if slots.iter().enumerate().all(|(i, &s)| s == i as u64) {
            return;
        }
        for e in &mut scanned.entries {
            let local = (e.key >> 32) as usize;
            e.key = (slots[local] << 32) | (e.key & 0xFFFF_FFFF);
        }
    }

    fn note_wide(&mut self, key: (i64, i64), call: ApiCall) {
        match self.wide.entry(key) {
            std::collections::hash_map::Entry::Occupied(_) => {
                *self.repeats.entry(key).or_default() += 1;
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(call);
            }
        }
    }

    /// Keeps the first entry of each key, counting the others.
    fn drop_repeats(&mut self) {
        let mut kept = 0;
        for i in 0..self.entries.len() {
            let entry = self.entries[i];
            if kept > 0 && self.entries[kept - 1].key == entry.key {
                let (process, correlation) = self.unpack(entry.key);
                *self.repeats.entry((process, correlation)).or_default() += 1;
            } else {
                self.entries[kept] = entry;
                kept += 1;
            }
        }
        self.entries.truncate(kept);
    }

    fn unpack(&self, key: u64) -> (i64, i64) {
        let slot = (key >> 32) as usize;
        let process = self.processes.get(slot).copied().unwrap_or(0);
        (process, (key & 0xFFFF_FFFF) as i64)
    }

    fn process_key(&self, process: i64) -> i64 {
        if self.by_process {
            process
        } else {
            0
        }
    }

    /// The call with `correlation` in `process` (ignored unless keyed by process),
    /// and how many more calls share that key; the search starts where `cursor`
    /// last landed and leaves it on the call found.
    pub fn get(
        &self,
        cursor: &mut Cursor,
        process: i64,
        correlation: i64,
    ) -> Option<(ApiCall, u32)> {
        let process = self.process_key(process);
        let call = match pack(&self.processes, process, correlation) {
            Some(key) => {
                let at = self.find(cursor.0, key)?;
                cursor.0 = at;
                self.entries[at].call()
            }
            None => *self.wide.get(&(process, correlation))?,
        };
        let repeats = if self.repeats.is_empty() {
            0
        } else {
            self.repeats
                .get(&(process, correlation))
                .copied()
                .unwrap_or(0)
        };
        Some((call, repeats))
    }

    /// Index of `key`, galloping forward from `hint` when the key lies after it.
    fn find(&self, hint: usize, key: u64) -> Option<usize> {
        let entries = &self.entries;
        let (mut lo, mut hi) = (0, entries.len());
        if entries.get(hint).is_some_and(|e| e.key <= key) {
            lo = hint;
            let mut step = 1;
            while lo + step < hi && entries[lo + step].key <= key {
                lo += step;
                step *= 2;
            }
            hi = hi.min(lo + step + 1);
        } else if hint < entries.len() {
            hi = hint;
        }
        let at = lo + entries[lo..hi].partition_point(|e| e.key < key);
        entries.get(at).filter(|e| e.key == key).map(|_| at)
    }
}

fn is_sorted(entries: &[Entry]) -> bool {
    entries.windows(2).all(|w| w[0].key <= w[1].key)
}

/// The key of `process` (looked up among `processes`) and `correlation`.
fn pack(processes: &[i64], process: i64, correlation: i64) -> Option<u64> {
    let slot = processes.iter().position(|&p| p == process)?;
    key(slot, correlation)
}

/// `slot << 32 | correlation` when both fit (the one packing of an index key).
fn key(slot: usize, correlation: i64) -> Option<u64> {
    let correlation = u32::try_from(correlation).ok()?;
    (slot < 1 << 31).then(|| ((slot as u64) << 32) | u64::from(correlation))
}

/// Plain scan of one rowid range of the API table on its own connection.
fn scan(export: &NsysExport, (first, last): (i64, i64), by_process: bool) -> Result<Scanned> {
    let conn = export.connect()?;
    let error = export.sql_error(RUNTIME);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT globalTid, correlationId, start, nameId FROM {RUNTIME}
             WHERE rowid BETWEEN ?1 AND ?2 AND correlationId IS NOT NULL"
        ))
        .map_err(&error)?;
    let mut rows = stmt.query([first, last]).map_err(&error)?;
    let mut out = Scanned::with_capacity(
        last.saturating_sub(first)
            .saturating_add(1)
            .clamp(0, ROWS_PER_RANGE) as usize,
    );
    while let Some(row) = rows.next().map_err(&error)? {
        let correlation: i64 = row.get(1).map_err(&error)?;
        let call = ApiCall {
            global_tid: row.get(0).map_err(&error)?,
            start: row.get(2).map_err(&error)?,
            name_id: row.get(3).map_err(&error)?,
        };
        out.push(by_process, correlation, call);
    }
    Ok(out)
}

/// The [`Launch`] record of a matched API call (`None` when nothing matched),
/// counting the other calls that shared its key under `duplicate`.
pub fn launch_of(
    call: Option<(ApiCall, u32)>,
    names: &mut dyn Names,
    survey: &mut Survey,
    duplicate: &str,
) -> Result<Option<Launch>> {
    let Some((call, repeats)) = call else {
        return Ok(None);
    };
    if repeats > 0 {
        survey.skip_n(duplicate, u64::from(repeats));
    }
    let api = match call.name_id {
        Some(id) => Some(names.api(id)?),
        None => None,
    };
    Ok(Some(Launch {
        thread: call.global_tid,
        start: call.start,
        api,
    }))
}

#[cfg(test)]
#[path = "launches_tests.rs"]
mod tests;
