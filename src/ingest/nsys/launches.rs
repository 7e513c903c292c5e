//! The launch join, done in Rust: every CUDA API call with a correlation id,
//! indexed by (process, correlationId), so kernels and memops find the call that
//! launched them without asking SQLite for a join.
//!
//! The API table is read by plain column scans over rowid ranges, on one read-only
//! connection per range, in parallel ([`super::super::ordered`]); ranges are
//! inserted in rowid order, so when a key repeats the lowest rowid wins (what
//! SQLite's join returned first) and the repeats are counted, whatever the thread
//! count.
//!
//! Memory: 24 bytes per call in the table (a packed `u64` key, the start, and
//! thread and API-name indexes into small interned lists); ~200 MB for 4.7 M
//! calls. Keys that do not pack (a correlation id beyond 32 bits, more than 2^31
//! processes) go to a plain map beside it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::export::{NsysExport, RUNTIME};
use super::strings::StringCache;
use super::PROCESS_MASK;
use crate::error::Result;
use crate::ingest::importer::Launch;
use crate::ingest::ordered::map_in_order;
use crate::ingest::Survey;

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

/// A multiply-xor hasher for the integer keys of the index (SipHash costs more
/// than the rest of the lookup; the keys are not attacker-chosen hash-flooding
/// material: a hostile export can only slow its own ingest down).
#[derive(Default)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Slot {
    start: i64,
    has_start: bool,
    thread: u32,
    name: u32,
}

/// API calls by (process, correlationId).
#[derive(Debug, Default)]
pub struct LaunchIndex {
    /// Keyed by process: `globalTid & PROCESS_MASK`; else every process is 0.
    by_process: bool,
    packed: IntMap<u64, Slot>,
    wide: IntMap<(i64, i64), Slot>,
    /// Extra calls per key beyond the first (rare).
    repeats: IntMap<(i64, i64), u32>,
    processes: IntMap<i64, u32>,
    threads: Vec<Option<i64>>,
    thread_ids: IntMap<Option<i64>, u32>,
    names: Vec<i64>,
    name_ids: IntMap<i64, u32>,
}

/// One API call as scanned.
struct Row {
    global_tid: Option<i64>,
    correlation: i64,
    start: Option<i64>,
    name_id: Option<i64>,
}

impl LaunchIndex {
    /// Scans the API table of `export`; `by_process` keys calls by their process.
    pub fn build(export: &NsysExport, by_process: bool) -> Result<LaunchIndex> {
        let mut index = LaunchIndex {
            by_process,
            ..LaunchIndex::default()
        };
        let Some((first, last)) = export.rowid_bounds(RUNTIME)? else {
            return Ok(index);
        };
        let ranges: Vec<(i64, i64)> = (0..=(last - first) / ROWS_PER_RANGE)
            .map(|i| {
                let lo = first + i * ROWS_PER_RANGE;
                (lo, (lo + ROWS_PER_RANGE - 1).min(last))
            })
            .collect();
        index
            .packed
            .reserve((last - first + 1).min(1 << 26) as usize);
        map_in_order(
            &ranges,
            |range| scan(export, *range),
            |rows| {
                for row in rows {
                    index.insert(row);
                }
                Ok(true)
            },
        )?;
        Ok(index)
    }

    fn insert(&mut self, row: Row) {
        let process = self.process_of(row.global_tid);
        let thread = match self.thread_ids.get(&row.global_tid) {
            Some(i) => *i,
            None => {
                let i = self.threads.len() as u32;
                self.threads.push(row.global_tid);
                self.thread_ids.insert(row.global_tid, i);
                i
            }
        };
        let name = match row.name_id {
            None => NONE,
            Some(id) => match self.name_ids.get(&id) {
                Some(i) => *i,
                None => {
                    let i = self.names.len() as u32;
                    self.names.push(id);
                    self.name_ids.insert(id, i);
                    i
                }
            },
        };
        let slot = Slot {
            start: row.start.unwrap_or(0),
            has_start: row.start.is_some(),
            thread,
            name,
        };
        let taken = match self.pack(process, row.correlation) {
            Some(key) => self.packed.insert(key, slot),
            None => self.wide.insert((process, row.correlation), slot),
        };
        if let Some(first) = taken {
            // Keep the first (lowest rowid) and count the repeat.
            match self.pack(process, row.correlation) {
                Some(key) => self.packed.insert(key, first),
                None => self.wide.insert((process, row.correlation), first),
            };
            *self.repeats.entry((process, row.correlation)).or_default() += 1;
        }
    }

    fn process_of(&self, global_tid: Option<i64>) -> i64 {
        if self.by_process {
            global_tid.map_or(0, |t| t & PROCESS_MASK)
        } else {
            0
        }
    }

    fn pack(&mut self, process: i64, correlation: i64) -> Option<u64> {
        let correlation = u32::try_from(correlation).ok()?;
        let next = self.processes.len() as u32;
        let slot = *self.processes.entry(process).or_insert(next);
        (slot < 1 << 31).then(|| (u64::from(slot) << 32) | u64::from(correlation))
    }

    fn packed_key(&self, process: i64, correlation: i64) -> Option<u64> {
        let correlation = u32::try_from(correlation).ok()?;
        let slot = *self.processes.get(&process)?;
        (slot < 1 << 31).then(|| (u64::from(slot) << 32) | u64::from(correlation))
    }

    /// The call with `correlation` in `process` (ignored unless keyed by process),
    /// and how many more calls share that key.
    pub fn get(&self, process: i64, correlation: i64) -> Option<(ApiCall, u32)> {
        let process = if self.by_process { process } else { 0 };
        let slot = match self.packed_key(process, correlation) {
            Some(key) => self.packed.get(&key),
            None => self.wide.get(&(process, correlation)),
        }?;
        let call = ApiCall {
            global_tid: self.threads.get(slot.thread as usize).copied().flatten(),
            start: slot.has_start.then_some(slot.start),
            name_id: self.names.get(slot.name as usize).copied(),
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
}

/// Plain scan of one rowid range of the API table on its own connection.
fn scan(export: &NsysExport, (first, last): (i64, i64)) -> Result<Vec<Row>> {
    let conn = export.connect()?;
    let error = export.sql_error(RUNTIME);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT globalTid, correlationId, start, nameId FROM {RUNTIME}
             WHERE rowid BETWEEN ?1 AND ?2 AND correlationId IS NOT NULL"
        ))
        .map_err(&error)?;
    let mut rows = stmt.query([first, last]).map_err(&error)?;
    let mut out = Vec::with_capacity((last - first + 1).min(1 << 20) as usize);
    while let Some(row) = rows.next().map_err(&error)? {
        out.push(Row {
            global_tid: row.get(0).map_err(&error)?,
            correlation: row.get(1).map_err(&error)?,
            start: row.get(2).map_err(&error)?,
            name_id: row.get(3).map_err(&error)?,
        });
    }
    Ok(out)
}

/// The [`Launch`] record of a matched API call (`None` when nothing matched),
/// counting the other calls that shared its key under `duplicate`.
pub fn launch_of(
    call: Option<(ApiCall, u32)>,
    strings: &mut StringCache,
    export: &NsysExport,
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
        Some(id) => Some(strings.api(id, export)?),
        None => None,
    };
    Ok(Some(Launch {
        thread: call.global_tid,
        start: call.start,
        api,
    }))
}
