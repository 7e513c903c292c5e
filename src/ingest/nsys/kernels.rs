//! Kernels of an nsys export as [`KernelRecord`]s: a plain scan of
//! `CUPTI_ACTIVITY_KIND_KERNEL` over one rowid range (one chunk) on its own
//! read-only connection, joined in Rust to the launching API call through the
//! [`LaunchIndex`] on (process, correlationId). Kernels of a CUDA graph replay carry
//! the `cudaGraphLaunch`'s correlation id and so find it. A kernel whose API call is
//! missing (windowed export, warm-up outside the capture range) has no launch.

use super::export::{NsysExport, Select, KERNEL};
use super::ids::{pid_of, tid_of};
use super::launches::{launch_of, Cursor, LaunchIndex};
use super::strings::{Names, StringCache};
use crate::error::Result;
use crate::ingest::importer::{Chunk, KernelOrder, KernelRecord, Sink};
use crate::ingest::survey::Survey;

/// Columns every kernel table must have.
pub const REQUIRED: &[&str] = &[
    "start",
    "end",
    "deviceId",
    "streamId",
    "shortName",
    "demangledName",
];

/// Select-list positions of the kernel columns.
struct Columns {
    start: usize,
    end: usize,
    device: usize,
    stream: usize,
    correlation: usize,
    global_pid: usize,
    short_name: usize,
    demangled: usize,
    graph_node: usize,
    grid: [usize; 3],
    block: [usize; 3],
    registers: usize,
    shared_static: usize,
    shared_dynamic: usize,
}

impl Columns {
    fn select(export: &NsysExport, select: &mut Select) -> Columns {
        let mut opt = |column: &str| select.optional(export, "k", KERNEL, column);
        let correlation = opt("correlationId");
        let global_pid = opt("globalPid");
        let graph_node = opt("graphNodeId");
        let grid = [opt("gridX"), opt("gridY"), opt("gridZ")];
        let block = [opt("blockX"), opt("blockY"), opt("blockZ")];
        let registers = opt("registersPerThread");
        let shared_static = opt("staticSharedMemory");
        let shared_dynamic = opt("dynamicSharedMemory");
        Columns {
            start: select.column("k", "start"),
            end: select.column("k", "end"),
            device: select.column("k", "deviceId"),
            stream: select.column("k", "streamId"),
            short_name: select.column("k", "shortName"),
            demangled: select.column("k", "demangledName"),
            correlation,
            global_pid,
            graph_node,
            grid,
            block,
            registers,
            shared_static,
            shared_dynamic,
        }
    }
}

/// Reads the kernels of `chunk` into `sink`. `launches` is `None` when the export
/// cannot be joined to API calls (the caller warned).
pub fn read(
    export: &NsysExport,
    chunk: &Chunk,
    launches: Option<&LaunchIndex>,
    survey: &mut Survey,
    sink: Sink<KernelRecord>,
) -> Result<()> {
    let mut select = Select::default();
    let c = Columns::select(export, &mut select);
    let (filter, order) = match (chunk.rows, chunk.order) {
        (Some(_), KernelOrder::AsStored) => ("WHERE k.rowid BETWEEN ?1 AND ?2", ""),
        (Some(_), KernelOrder::ByStart) => (
            "WHERE k.rowid BETWEEN ?1 AND ?2",
            "ORDER BY k.start, k.rowid",
        ),
        (None, KernelOrder::AsStored) => ("WHERE ?1 <= ?2", ""),
        (None, KernelOrder::ByStart) => ("WHERE ?1 <= ?2", "ORDER BY k.start, k.rowid"),
    };
    let sql = format!("SELECT {} FROM {KERNEL} k {filter} {order}", select.list());
    let (first, last) = chunk.rows.unwrap_or((0, 0));
    let conn = export.connect()?;
    let error = export.sql_error(KERNEL);
    let mut strings = StringCache::new(&conn, export)?;
    let mut stmt = conn.prepare(&sql).map_err(&error)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|n| n.to_string()).collect();
    let mut rows = stmt.query([first, last]).map_err(&error)?;
    let duplicate = KERNEL_DUPLICATE;
    let by_process = export.has_column(KERNEL, "globalPid");
    let mut cursor = Cursor::default();
    let joined = Joined {
        launches,
        by_process,
        duplicate,
    };
    while let Some(row) = rows.next().map_err(&error)? {
        let cells = match Cells::read(row, &c) {
            Ok(cells) => cells,
            Err(e) => match bad_cell(&e) {
                // One row's impossible value costs that row, named, not the file.
                Some(index) => {
                    survey.skip(&bad_cell_reason(
                        columns.get(index).map_or("?", String::as_str),
                    ));
                    continue;
                }
                None => return Err(error(e)),
            },
        };
        let record = joined.record(&cells, &mut cursor, &mut strings, survey)?;
        if !sink(record)? {
            break;
        }
    }
    Ok(())
}

/// The survey reason for a kernel row skipped for an impossible value in `column`.
pub fn bad_cell_reason(column: &str) -> String {
    format!(
        "kernel row with a value out of range or of the wrong type in column {column} (skipped)"
    )
}

/// The survey reason for a kernel whose correlation id several API calls share.
pub const KERNEL_DUPLICATE: &str =
    "kernel matched a second CUDA API call with its correlation id (kept the first)";

/// How kernels find their launches (both stores).
pub struct Joined<'a> {
    /// `None` when the export cannot be joined to API calls (the caller warned).
    pub launches: Option<&'a LaunchIndex>,
    /// The kernel table has `globalPid`: calls are keyed by process.
    pub by_process: bool,
    /// The survey reason for a correlation id shared by several calls.
    pub duplicate: &'a str,
}

impl Joined<'_> {
    /// The record of one kernel row, joined to its launching call.
    pub fn record(
        &self,
        cells: &Cells,
        cursor: &mut Cursor,
        names: &mut dyn Names,
        survey: &mut Survey,
    ) -> Result<KernelRecord> {
        let call = match (self.launches, cells.correlation_id) {
            (Some(index), Some(corr)) if !self.by_process || cells.global_pid.is_some() => {
                index.get(cursor, cells.global_pid.unwrap_or(0), corr)
            }
            _ => None,
        };
        let launch = launch_of(call, names, survey, self.duplicate)?;
        let thread = launch.as_ref().and_then(|l| l.thread);
        Ok(KernelRecord {
            device: cells.device,
            pid: cells.global_pid.or(thread).map_or(0, pid_of),
            tid: thread.map(tid_of),
            stream: cells.stream,
            correlation_id: cells.correlation_id,
            start: cells.start,
            end: cells.end,
            name: names.name(cells.short_id)?,
            demangled: names.name(cells.demangled_id)?,
            name_key: (cells.short_id, cells.demangled_id),
            from_graph: cells.graph_node_id.is_some(),
            graph_node_id: cells.graph_node_id,
            capture_node: None,
            grid: cells.grid,
            block: cells.block,
            registers: cells.registers,
            shared_static_bytes: cells.shared_static,
            shared_dynamic_bytes: cells.shared_dynamic,
            launch,
        })
    }
}

/// The cells of one kernel row, as read (missing launch-geometry columns read 0).
#[derive(Debug)]
pub struct Cells {
    pub correlation_id: Option<i64>,
    pub global_pid: Option<i64>,
    pub short_id: i64,
    pub demangled_id: i64,
    pub graph_node_id: Option<i64>,
    pub device: i32,
    pub stream: i64,
    pub start: i64,
    pub end: i64,
    pub grid: [i32; 3],
    pub block: [i32; 3],
    pub registers: i32,
    pub shared_static: i32,
    pub shared_dynamic: i32,
}

impl Cells {
    fn read(row: &rusqlite::Row, c: &Columns) -> rusqlite::Result<Cells> {
        let int =
            |i: usize| -> rusqlite::Result<i32> { Ok(row.get::<_, Option<i32>>(i)?.unwrap_or(0)) };
        Ok(Cells {
            correlation_id: row.get(c.correlation)?,
            global_pid: row.get(c.global_pid)?,
            short_id: row.get(c.short_name)?,
            demangled_id: row.get(c.demangled)?,
            graph_node_id: row.get(c.graph_node)?,
            device: row.get(c.device)?,
            stream: row.get(c.stream)?,
            start: row.get(c.start)?,
            end: row.get(c.end)?,
            grid: [int(c.grid[0])?, int(c.grid[1])?, int(c.grid[2])?],
            block: [int(c.block[0])?, int(c.block[1])?, int(c.block[2])?],
            registers: int(c.registers)?,
            shared_static: int(c.shared_static)?,
            shared_dynamic: int(c.shared_dynamic)?,
        })
    }
}

/// The column index of an error about one cell's value (out of range for its
/// type, or of another type), `None` for any other error.
fn bad_cell(e: &rusqlite::Error) -> Option<usize> {
    match e {
        rusqlite::Error::IntegralValueOutOfRange(i, _)
        | rusqlite::Error::FromSqlConversionFailure(i, _, _)
        | rusqlite::Error::InvalidColumnType(i, _, _) => Some(*i),
        _ => None,
    }
}

/// More chunks than this make [`chunks`] check that the rowids are dense.
const MANY_CHUNKS: i64 = 1024;

/// Fewest rowids per chunk: smaller chunks cost more in connections than they save.
const MIN_CHUNK_ROWS: i64 = 1024;

/// The chunks of the kernel table: about `wanted` rowid ranges of
/// `MIN_CHUNK_ROWS..=max_rows` rowids when read as stored, one sorted chunk
/// otherwise.
pub fn chunks(
    export: &NsysExport,
    order: KernelOrder,
    wanted: i64,
    max_rows: i64,
) -> Result<Vec<Chunk>> {
    if !export.has_table(KERNEL) {
        return Ok(Vec::new());
    }
    export.require_columns(KERNEL, REQUIRED)?;
    if order == KernelOrder::ByStart {
        return Ok(vec![Chunk {
            index: 0,
            rows: None,
            order,
        }]);
    }
    let Some((first, last)) = export.rowid_bounds(KERNEL)? else {
        return Ok(Vec::new());
    };
    let span = last.saturating_sub(first).saturating_add(1);
    let mut size = (span / wanted.max(1)).clamp(MIN_CHUNK_ROWS, max_rows.max(MIN_CHUNK_ROWS));
    // Rowids far apart (an edited or damaged export: 60 rows up to rowid 3.4e10)
    // would make millions of empty chunks, each a query: chunk such a table by its
    // row count instead. A dense table never pays for the count below this.
    if span / size > MANY_CHUNKS && export.sparse_rows(KERNEL, span)?.is_some() {
        size = size.max(span / wanted.max(1).saturating_mul(4)).max(1);
    }
    Ok((0..=last.saturating_sub(first) / size)
        .map(|i| {
            let lo = first.saturating_add(i.saturating_mul(size));
            Chunk {
                index: i as usize,
                rows: Some((lo, lo.saturating_add(size - 1).min(last))),
                order,
            }
        })
        .collect())
}
