//! The Nsight Systems parquetdir importer: `nsys export --type parquetdir` (nsys
//! 2024.6+) holds the tables of the SQLite export as Parquet files, so this importer
//! reads the same tables and columns as [`super::NsysImporter`], as Arrow batches
//! (only the columns it needs, no row-by-row SQL decoding), and hands the rows to the
//! code the SQLite importer uses from there on: the launch index
//! ([`LaunchIndex::assemble`]), the kernel join ([`Joined`]), the memop join
//! ([`memops::emit`]) and the run facts ([`meta::facts`]). The files and their
//! scans are in `store`, the kernel columns and their cells in `columns`.
//!
//! Invariants: the records equal the SQLite importer's for the same report, row for
//! row and in the same order (NVTX by `(globalTid, start, end desc)` with nulls where
//! SQLite puts them; kernels as stored, else by start; memops by start within each
//! table); a kernel row with an impossible cell is skipped and counted under the same
//! reason; kernel chunks never span a row group.

mod columns;
mod store;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use columns::{kernel_cells, KernelColumns, KERNEL_COLUMNS};
pub use store::ParquetDir;
use store::{at, text_at, Batch};

use super::export::{KERNEL, MEMCPY, MEMSET, NVTX, RUNTIME, STRINGS};
use super::ids::{pid_of, tid_of};
use super::joins::{self, Launches, Tables};
use super::kernels::{self, bad_cell_reason, Cells, Joined, KERNEL_DUPLICATE};
use super::launches::{ApiCall, Cursor, LaunchIndex, Scanned};
use super::memops::{self, Stored};
use super::meta::{self, FactSource, Gpu};
use super::nvtx::kind_of;
use super::strings::{stored_or_unknown, strip_api_version, Names};
use crate::attribute::module_index::GraphNodeEvent;
use crate::error::Result;
use crate::fast_hash::FastMap;
use crate::ingest::importer::{
    Chunk, Importer, KernelOrder, KernelRecord, MemopRecord, NvtxRecord, RunFacts, Sink,
};
use crate::ingest::survey::Survey;
use crate::stage_timing;

/// Rows per scan range of the API table.
const ROWS_PER_RANGE: i64 = 256 * 1024;

/// Fewest rows per kernel chunk.
const MIN_CHUNK_ROWS: i64 = 1024;

/// One row group's kernel columns, decoded as the reader's batches (each with its
/// first row's index within the group). Chunks read their rows' cells from them.
type GroupColumns = Arc<Vec<(usize, KernelColumns)>>;

/// One row group's columns once decoded (empty while the first reader decodes them,
/// or after a failed decode, which the next reader tries again).
type GroupSlot = Arc<Mutex<Option<GroupColumns>>>;

/// An opened parquetdir export, its strings and its API-call indexes.
#[derive(Debug)]
pub struct ParquetDirImporter {
    dir: ParquetDir,
    strings: FastMap<i64, Arc<str>>,
    launches: Launches,
    /// The row groups the kernel chunks are reading now, each decoded once for
    /// all of them, under its own lock: readers of a decoded group never wait for
    /// the next one being decoded. Chunks come in order, so a group two behind the
    /// one asked for is finished and dropped (a chunk still on it holds its own
    /// reference).
    decoded: Mutex<Vec<(usize, GroupSlot)>>,
}

/// `StringIds` read whole, with API names stripped of their version on demand.
/// One per reader thread: it hands out its own copies of the names it was asked
/// for, so the records' reference counts never bounce between threads.
struct StringTable<'a> {
    all: &'a FastMap<i64, Arc<str>>,
    apis: FastMap<i64, Arc<str>>,
    copies: FastMap<i64, Arc<str>>,
}

impl Names for StringTable<'_> {
    fn name(&mut self, id: i64) -> Result<Arc<str>> {
        if let Some(value) = self.copies.get(&id) {
            return Ok(Arc::clone(value));
        }
        let value: Arc<str> = match self.all.get(&id) {
            Some(value) => Arc::from(&**value),
            None => stored_or_unknown(id, None),
        };
        self.copies.insert(id, Arc::clone(&value));
        Ok(value)
    }

    fn api(&mut self, id: i64) -> Result<Arc<str>> {
        if let Some(name) = self.apis.get(&id) {
            return Ok(Arc::clone(name));
        }
        let name: Arc<str> = Arc::from(strip_api_version(&self.name(id)?));
        self.apis.insert(id, Arc::clone(&name));
        Ok(name)
    }
}

impl ParquetDirImporter {
    /// Opens `dir` (footers and `StringIds` only).
    pub fn open(dir: &Path) -> Result<ParquetDirImporter> {
        let dir = ParquetDir::open(dir)?;
        let mut strings = FastMap::default();
        if dir.has_column(STRINGS, "id") && dir.has_column(STRINGS, "value") {
            dir.scan(STRINGS, &["id", "value"], None, &mut |b| {
                let (ids, values) = (b.ints("id")?, b.texts("value")?);
                for i in 0..b.rows() {
                    if let Some(id) = at(&ids, i) {
                        let value = text_at(&values, i).map(str::to_string);
                        strings
                            .entry(id)
                            .or_insert_with(|| stored_or_unknown(id, value));
                    }
                }
                Ok(true)
            })?;
        }
        Ok(ParquetDirImporter {
            dir,
            strings,
            launches: Launches::default(),
            decoded: Mutex::new(Vec::new()),
        })
    }

    /// Row group `group` of the kernel table, decoded (shared with the other chunks
    /// of that group), a thread per column. Only the Parquet decoding happens under
    /// the group's lock (its other readers wait for it); turning rows into cells is
    /// each chunk's own work, in parallel.
    fn group_columns(&self, group: usize, (first, rows): (i64, i64)) -> Result<GroupColumns> {
        let poisoned = || {
            self.dir
                .schema_error(KERNEL, "a reader thread panicked".into())
        };
        let slot = {
            let mut slots = self.decoded.lock().map_err(|_| poisoned())?;
            slots.retain(|(at, _)| at + 1 >= group);
            match slots.iter().find(|(at, _)| *at == group) {
                Some((_, slot)) => Arc::clone(slot),
                None => {
                    let slot = GroupSlot::default();
                    slots.push((group, Arc::clone(&slot)));
                    slot
                }
            }
        };
        let mut decoded = slot.lock().map_err(|_| poisoned())?;
        if let Some(columns) = decoded.as_ref() {
            return Ok(Arc::clone(columns));
        }
        let started = std::time::Instant::now();
        let mut batches = Vec::new();
        let mut offset = 0;
        self.dir.scan_columns_in_parallel(
            KERNEL,
            &KERNEL_COLUMNS,
            Some((first, first + rows - 1)),
            &mut |b| {
                batches.push((offset, KernelColumns::of(b)?));
                offset += b.rows();
                Ok(true)
            },
        )?;
        stage_timing::report(
            &self.dir.path.display().to_string(),
            &format!("kernels: row group {group} decoded ({rows} rows)"),
            started.elapsed(),
        );
        let columns = Arc::new(batches);
        *decoded = Some(Arc::clone(&columns));
        Ok(columns)
    }

    fn names(&self) -> StringTable<'_> {
        StringTable {
            all: &self.strings,
            apis: FastMap::default(),
            copies: FastMap::default(),
        }
    }

    fn launches(&self, by_process: bool) -> Result<Arc<LaunchIndex>> {
        self.launches
            .get(by_process, || self.build_launches(by_process))
    }

    fn build_launches(&self, by_process: bool) -> Result<LaunchIndex> {
        let ranges = split(&self.dir.row_groups(RUNTIME), ROWS_PER_RANGE);
        let rows = self.dir.row_count(RUNTIME) as i64;
        let input = self.dir.path.display().to_string();
        LaunchIndex::assemble(by_process, &ranges, rows, &input, |&range| {
            let mut out = Scanned::with_capacity((range.1 - range.0 + 1).max(0) as usize);
            let columns = ["globalTid", "correlationId", "start", "nameId"];
            self.dir.scan(RUNTIME, &columns, Some(range), &mut |b| {
                let (tid, corr) = (b.ints("globalTid")?, b.ints("correlationId")?);
                let (start, name) = (b.ints("start")?, b.ints("nameId")?);
                for i in 0..b.rows() {
                    if let Some(correlation) = at(&corr, i) {
                        let call = ApiCall {
                            global_tid: at(&tid, i),
                            start: at(&start, i),
                            name_id: at(&name, i),
                        };
                        out.push(by_process, correlation, call);
                    }
                }
                Ok(true)
            })?;
            Ok(out)
        })
    }

    /// The memop rows of `table` in start order (stable: stored order among equals).
    fn memop_rows(&self, table: &str, out: &mut Vec<Stored>) -> Result<()> {
        self.dir.require_columns(table, memops::REQUIRED)?;
        let columns = [
            "start",
            "end",
            "deviceId",
            "streamId",
            "bytes",
            "correlationId",
            "globalPid",
            "graphNodeId",
            "copyKind",
        ];
        let mut rows = Vec::new();
        let is_memcpy = table == MEMCPY;
        self.dir.scan(table, &columns, None, &mut |b| {
            let c = |name| b.ints(name);
            let (start, end, device, stream) =
                (c("start")?, c("end")?, c("deviceId")?, c("streamId")?);
            let (bytes, corr, pid, node) = (
                c("bytes")?,
                c("correlationId")?,
                c("globalPid")?,
                c("graphNodeId")?,
            );
            let kind = if is_memcpy { c("copyKind")? } else { None };
            for i in 0..b.rows() {
                let required = |col: &Option<_>, name: &str| {
                    at(col, i).ok_or_else(|| null_error(&self.dir, table, name))
                };
                let device = required(&device, "deviceId")?;
                rows.push(Stored {
                    is_memcpy,
                    start: required(&start, "start")?,
                    end: required(&end, "end")?,
                    device: i32::try_from(device).map_err(|_| {
                        self.dir
                            .schema_error(table, format!("deviceId {device} is out of range"))
                    })?,
                    stream: required(&stream, "streamId")?,
                    correlation: at(&corr, i),
                    global_pid: at(&pid, i),
                    bytes: required(&bytes, "bytes")?,
                    copy_kind: at(&kind, i),
                    graph_node: at(&node, i),
                });
            }
            Ok(true)
        })?;
        rows.sort_by_key(|m| m.start);
        out.extend(rows);
        Ok(())
    }
}

fn null_error(dir: &ParquetDir, table: &str, column: &str) -> crate::Error {
    dir.schema_error(table, format!("a row has no {column}"))
}

/// Row groups cut into ranges (first row, last row) of at most `most` rows, never
/// across a group's end.
fn split(groups: &[(i64, i64)], most: i64) -> Vec<(i64, i64)> {
    let mut ranges = Vec::new();
    for &(first, rows) in groups {
        let mut at = first;
        while at < first + rows {
            let last = (at + most - 1).min(first + rows - 1);
            ranges.push((at, last));
            at = last + 1;
        }
    }
    ranges
}

impl Importer for ParquetDirImporter {
    fn path(&self) -> &Path {
        &self.dir.path
    }

    fn format(&self) -> &'static str {
        "nsys-parquetdir"
    }

    fn nvtx_rows(&self) -> Result<u64> {
        Ok(self.dir.row_count(NVTX))
    }

    fn kernel_rows(&self) -> Result<u64> {
        Ok(self.dir.row_count(KERNEL))
    }

    fn memop_rows(&self) -> Result<u64> {
        Ok(self.dir.row_count(MEMCPY) + self.dir.row_count(MEMSET))
    }

    fn nvtx(&self, survey: &mut Survey, sink: Sink<NvtxRecord>) -> Result<()> {
        if !self.dir.has_table(NVTX) {
            joins::no_nvtx(&self.dir, survey);
            return Ok(());
        }
        self.dir.require_columns(NVTX, &["start", "eventType"])?;
        let by_id = self.dir.has_column(NVTX, "textId") && self.dir.has_table(STRINGS);
        let mut rows = Vec::new();
        let columns = [
            "globalTid",
            "start",
            "end",
            "eventType",
            "textId",
            "text",
            "domainId",
        ];
        self.dir.scan(NVTX, &columns, None, &mut |b| {
            let (tid, start, end) = (b.ints("globalTid")?, b.ints("start")?, b.ints("end")?);
            let (kind, text_id, domain) =
                (b.ints("eventType")?, b.ints("textId")?, b.ints("domainId")?);
            let text = b.texts("text")?;
            for i in 0..b.rows() {
                let registered = at(&text_id, i)
                    .filter(|_| by_id)
                    .and_then(|id| self.strings.get(&id))
                    .map(|s| s.to_string());
                rows.push((
                    at(&tid, i),
                    at(&start, i).ok_or_else(|| null_error(&self.dir, NVTX, "start"))?,
                    at(&end, i),
                    at(&kind, i).ok_or_else(|| null_error(&self.dir, NVTX, "eventType"))?,
                    registered.or_else(|| text_at(&text, i).map(str::to_string)),
                    at(&domain, i),
                ));
            }
            Ok(true)
        })?;
        // SQLite's ORDER BY globalTid, start, end DESC: nulls first, and last for end.
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(b.2.cmp(&a.2)));
        for (thread, start, end, kind, text, domain_id) in rows {
            let thread = thread.unwrap_or(0);
            let record = NvtxRecord {
                wraps_label: false,
                thread,
                pid: pid_of(thread),
                tid: tid_of(thread),
                start,
                end,
                kind: kind_of(kind),
                text,
                domain_id,
            };
            if !sink(record)? {
                break;
            }
        }
        Ok(())
    }

    /// The launch index, with the first kernel row group decoded beside it (every
    /// kernel chunk would wait for that group otherwise). A failed decode is left
    /// for the kernel pass to retry and report.
    fn prepare(&self, survey: &mut Survey) -> Result<()> {
        let first_group = self
            .dir
            .require_columns(KERNEL, kernels::REQUIRED)
            .ok()
            .and_then(|()| self.dir.row_groups(KERNEL).first().copied());
        let (prepared, _) = rayon::join(
            || joins::prepare(&self.dir, survey, |by| self.launches(by)),
            || first_group.map(|group| self.group_columns(0, group).is_ok()),
        );
        prepared
    }

    fn kernel_chunks(&self, order: KernelOrder, wanted: i64, max_rows: i64) -> Result<Vec<Chunk>> {
        if !self.dir.has_table(KERNEL) {
            return Ok(Vec::new());
        }
        self.dir.require_columns(KERNEL, kernels::REQUIRED)?;
        if order == KernelOrder::ByStart {
            return Ok(vec![Chunk {
                index: 0,
                rows: None,
                order,
            }]);
        }
        let rows = self.dir.row_count(KERNEL) as i64;
        let size = (rows / wanted.max(1)).clamp(MIN_CHUNK_ROWS, max_rows.max(MIN_CHUNK_ROWS));
        Ok(split(&self.dir.row_groups(KERNEL), size)
            .into_iter()
            .enumerate()
            .map(|(index, range)| Chunk {
                index,
                rows: Some(range),
                order,
            })
            .collect())
    }

    fn kernels(&self, chunk: &Chunk, survey: &mut Survey, sink: Sink<KernelRecord>) -> Result<()> {
        let index = joins::kernel_index(&self.dir, |by| self.launches(by))?;
        let joined = Joined {
            launches: index.as_deref(),
            by_process: joins::kernels_by_process(&self.dir),
            duplicate: KERNEL_DUPLICATE,
        };
        let mut names = self.names();
        let mut cursor = Cursor::default();
        let columns = KERNEL_COLUMNS;
        let read = |b: &Batch,
                    each: &mut dyn FnMut(Cells, &mut Survey) -> Result<bool>,
                    survey: &mut Survey|
         -> Result<bool> {
            let c = KernelColumns::of(b)?;
            for i in 0..b.rows() {
                match kernel_cells(&c, i) {
                    Ok(cells) => {
                        if !each(cells, survey)? {
                            return Ok(false);
                        }
                    }
                    Err(column) => survey.skip(&bad_cell_reason(column)),
                }
            }
            Ok(true)
        };
        if chunk.order == KernelOrder::ByStart {
            let mut all = Vec::new();
            self.dir.scan(KERNEL, &columns, None, &mut |b| {
                read(
                    b,
                    &mut |cells, _| {
                        all.push(cells);
                        Ok(true)
                    },
                    survey,
                )
            })?;
            all.sort_by_key(|c| c.start);
            for cells in all {
                if !sink(joined.record(&cells, &mut cursor, &mut names, survey)?)? {
                    break;
                }
            }
            return Ok(());
        }
        let Some((first, last)) = chunk.rows else {
            return Ok(());
        };
        let groups = self.dir.row_groups(KERNEL);
        let Some(group) = groups
            .iter()
            .position(|&(start, rows)| start <= first && last < start + rows)
        else {
            return Err(self.dir.schema_error(
                KERNEL,
                format!("rows {first}..={last} are not inside one row group"),
            ));
        };
        let batches = self.group_columns(group, groups[group])?;
        let offset = groups[group].0;
        let (first, last) = ((first - offset) as usize, (last - offset) as usize);
        // The chunk's cells first, in one sequential pass over the columns, then
        // the join: interleaving the two walks 18 column streams and 33 builder
        // streams at once, which costs more than the copy.
        let mut rows = Vec::with_capacity(last.saturating_sub(first) + 1);
        for (start, c) in batches.iter() {
            if start + c.rows <= first || *start > last {
                continue;
            }
            let from = first.saturating_sub(*start);
            let to = (last - start).min(c.rows - 1);
            rows.extend((from..=to).map(|i| kernel_cells(c, i)));
        }
        for row in rows {
            match row {
                Ok(cells) => {
                    if !sink(joined.record(&cells, &mut cursor, &mut names, survey)?)? {
                        break;
                    }
                }
                Err(column) => survey.skip(&bad_cell_reason(column)),
            }
        }
        Ok(())
    }

    fn memops(&self, survey: &mut Survey, sink: Sink<MemopRecord>) -> Result<()> {
        let mut stored = Vec::new();
        for table in [MEMCPY, MEMSET] {
            if self.dir.has_table(table) {
                self.memop_rows(table, &mut stored)?;
            }
        }
        if stored.is_empty() {
            return Ok(());
        }
        joins::memops_with(
            &self.dir,
            survey,
            |by| self.launches(by),
            |launches, survey| memops::emit(stored, launches, &mut self.names(), survey, sink),
        )
    }

    fn facts(&self, devices: &BTreeSet<i32>) -> Result<RunFacts> {
        meta::facts(&self.dir, devices)
    }

    fn graph_nodes(&self) -> Result<Option<Vec<GraphNodeEvent>>> {
        let Some(table) = ["CUDA_GRAPH_NODE_EVENTS", "CUDA_GRAPH_EVENTS"]
            .into_iter()
            .find(|t| self.dir.has_column(t, "graphNodeId"))
        else {
            return Ok(None);
        };
        self.dir.require_columns(table, &["start", "graphNodeId"])?;
        let mut events = Vec::new();
        let columns = ["graphNodeId", "originalGraphNodeId", "globalTid", "start"];
        self.dir.scan(table, &columns, None, &mut |b| {
            let (node, original) = (b.ints("graphNodeId")?, b.ints("originalGraphNodeId")?);
            let (tid, start) = (b.ints("globalTid")?, b.ints("start")?);
            for i in 0..b.rows() {
                if let Some(node) = at(&node, i) {
                    events.push(GraphNodeEvent {
                        node,
                        original: at(&original, i),
                        thread: at(&tid, i),
                        start: at(&start, i)
                            .ok_or_else(|| null_error(&self.dir, table, "start"))?,
                    });
                }
            }
            Ok(true)
        })?;
        Ok(Some(events))
    }
}

impl Tables for ParquetDir {
    fn has_table(&self, table: &str) -> bool {
        ParquetDir::has_table(self, table)
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        ParquetDir::has_column(self, table, column)
    }

    fn location(&self) -> &Path {
        &self.path
    }
}

impl FactSource for ParquetDir {
    fn value(&self, table: &str, key: &str) -> Result<Option<String>> {
        if !self.has_column(table, "name") || !self.has_column(table, "value") {
            return Ok(None);
        }
        let mut found = None;
        self.scan(table, &["name", "value"], None, &mut |b| {
            let (names, values) = (b.texts("name")?, b.texts("value")?);
            for i in 0..b.rows() {
                if text_at(&names, i) == Some(key) {
                    found = Some(text_at(&values, i).map(str::to_string));
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        Ok(found.flatten())
    }

    fn gpus(&self) -> Result<Option<Vec<Gpu>>> {
        let table = "TARGET_INFO_GPU";
        if !self.has_column(table, "name") || !self.has_column(table, "id") {
            return Ok(None);
        }
        let mut all = Vec::new();
        self.scan(table, &["id", "name"], None, &mut |b| {
            let (ids, names) = (b.ints("id")?, b.texts("name")?);
            for i in 0..b.rows() {
                let id = at(&ids, i).ok_or_else(|| null_error(self, table, "id"))?;
                all.push((id, text_at(&names, i).map(str::to_string)));
            }
            Ok(true)
        })?;
        Ok(Some(all))
    }
}
