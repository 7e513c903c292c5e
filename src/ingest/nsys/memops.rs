//! Memcpy and memset rows of an nsys export as [`MemopRecord`]s, joined to their
//! launching API call through the [`LaunchIndex`] (memops are few next to
//! kernels: they are read whole, memcpy then memset, each in start order).

use super::export::{NsysExport, Select, MEMCPY, MEMSET};
use super::ids::{pid_of, tid_of};
use super::launches::{launch_of, Cursor, LaunchIndex};
use super::strings::{Names, StringCache};
use crate::error::Result;
use crate::ingest::importer::{MemopRecord, Sink};
use crate::ingest::survey::Survey;

/// `ENUM_CUDA_MEMCPY_OPER` ids (unchanged 2022.4 → 2026.x): short code and nsys label.
fn copy_kind(id: i64) -> (&'static str, &'static str) {
    match id {
        1 => ("HtoD", "Host-to-Device"),
        2 => ("DtoH", "Device-to-Host"),
        3 => ("HtoA", "Host-to-Array"),
        4 => ("AtoH", "Array-to-Host"),
        5 => ("AtoA", "Array-to-Array"),
        6 => ("AtoD", "Array-to-Device"),
        7 => ("DtoA", "Device-to-Array"),
        8 => ("DtoD", "Device-to-Device"),
        9 => ("HtoH", "Host-to-Host"),
        10 => ("PtoP", "Peer-to-Peer"),
        11 => ("UVM_HtoD", "Unified Host-to-Device"),
        12 => ("UVM_DtoH", "Unified Device-to-Host"),
        13 => ("UVM_DtoD", "Unified Device-to-Device"),
        _ => ("Unknown", "Unknown"),
    }
}

/// Columns every memcpy and memset table must have.
pub const REQUIRED: &[&str] = &["start", "end", "deviceId", "streamId", "bytes"];

/// One memop row as stored (both stores).
pub struct Stored {
    pub is_memcpy: bool,
    pub start: i64,
    pub end: i64,
    pub device: i32,
    pub stream: i64,
    pub correlation: Option<i64>,
    pub global_pid: Option<i64>,
    pub bytes: i64,
    pub copy_kind: Option<i64>,
    pub graph_node: Option<i64>,
}

fn read_table(export: &NsysExport, table: &str, out: &mut Vec<Stored>) -> Result<()> {
    export.require_columns(table, REQUIRED)?;
    let mut select = Select::default();
    let start = select.column("m", "start");
    let end = select.column("m", "end");
    let device = select.column("m", "deviceId");
    let stream = select.column("m", "streamId");
    let bytes = select.column("m", "bytes");
    let correlation = select.optional(export, "m", table, "correlationId");
    let global_pid = select.optional(export, "m", table, "globalPid");
    let graph_node = select.optional(export, "m", table, "graphNodeId");
    let kind = if table == MEMCPY {
        select.optional(export, "m", table, "copyKind")
    } else {
        select.expr("NULL")
    };
    let sql = format!(
        "SELECT {} FROM {table} m ORDER BY m.start, m.rowid",
        select.list()
    );
    let conn = export.connect()?;
    let error = export.sql_error(table);
    let mut stmt = conn.prepare(&sql).map_err(&error)?;
    let mut rows = stmt.query([]).map_err(&error)?;
    while let Some(row) = rows.next().map_err(&error)? {
        out.push(Stored {
            is_memcpy: table == MEMCPY,
            start: row.get(start).map_err(&error)?,
            end: row.get(end).map_err(&error)?,
            device: row.get(device).map_err(&error)?,
            stream: row.get(stream).map_err(&error)?,
            correlation: row.get(correlation).map_err(&error)?,
            global_pid: row.get(global_pid).map_err(&error)?,
            bytes: row.get(bytes).map_err(&error)?,
            copy_kind: row.get(kind).map_err(&error)?,
            graph_node: row.get(graph_node).map_err(&error)?,
        });
    }
    Ok(())
}

/// Reads every memop into `sink`. `launches(by_process)` gives the API-call index
/// keyed by process when the memops carry a process id (exports without one match
/// on the correlation id alone), or `None` when the export cannot be joined.
pub fn read(
    export: &NsysExport,
    launches: impl FnOnce(bool) -> Result<Option<std::sync::Arc<LaunchIndex>>>,
    survey: &mut Survey,
    sink: Sink<MemopRecord>,
) -> Result<()> {
    let mut stored = Vec::new();
    for table in [MEMCPY, MEMSET] {
        if export.has_table(table) {
            read_table(export, table, &mut stored)?;
        }
    }
    if stored.is_empty() {
        return Ok(());
    }
    let conn = export.connect()?;
    let mut strings = StringCache::new(&conn, export)?;
    emit(stored, launches, &mut strings, survey, sink)
}

/// Joins `stored` (memcpy rows then memset rows, each in start order) to their
/// launching calls and hands the records to `sink`.
pub fn emit(
    stored: Vec<Stored>,
    launches: impl FnOnce(bool) -> Result<Option<std::sync::Arc<LaunchIndex>>>,
    names: &mut dyn Names,
    survey: &mut Survey,
    sink: Sink<MemopRecord>,
) -> Result<()> {
    let with_pid = stored.iter().any(|m| m.global_pid.is_some());
    let index = if stored.iter().any(|m| m.correlation.is_some()) {
        launches(with_pid)?
    } else {
        None
    };
    let duplicate = "memop matched a second CUDA API call with its correlation id (kept the first)";
    let mut cursor = Cursor::default();
    for m in stored {
        let call = match (&index, m.correlation) {
            (Some(index), Some(corr)) => index.get(&mut cursor, m.global_pid.unwrap_or(0), corr),
            _ => None,
        };
        let launch = launch_of(call, names, survey, duplicate)?;
        let thread = launch.as_ref().and_then(|l| l.thread);
        let (kind, copy, name) = if m.is_memcpy {
            let (code, label) = copy_kind(m.copy_kind.unwrap_or(0));
            (
                "memcpy",
                Some(code.to_string()),
                format!("[CUDA memcpy {label}]"),
            )
        } else {
            ("memset", None, "[CUDA memset]".to_string())
        };
        let record = MemopRecord {
            device: m.device,
            pid: m.global_pid.or(thread).map_or(0, pid_of),
            tid: thread.map(tid_of),
            stream: m.stream,
            correlation_id: m.correlation,
            start: m.start,
            end: m.end,
            kind,
            copy_kind: copy,
            bytes: m.bytes,
            name,
            launched_by: if m.graph_node.is_some() {
                "graph"
            } else {
                "api"
            },
            launch,
        };
        if !sink(record)? {
            break;
        }
    }
    Ok(())
}
