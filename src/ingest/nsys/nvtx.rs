//! NVTX events of an nsys export as [`NvtxRecord`]s, in `(globalTid, start, end
//! DESC)` order (the pipeline derives nesting depth and steps from that order).
//! Message text is `coalesce(StringIds[textId], text)`: registered strings win,
//! inline text otherwise (both occur, also within one export).

use super::export::{NsysExport, Select, NVTX, STRINGS};
use super::ids::{pid_of, tid_of};
use crate::error::Result;
use crate::ingest::importer::{NvtxRecord, Sink};
use crate::ingest::survey::Survey;

/// Name of an NVTX event type id (ids are stable across nsys 2022.1 → 2026.x).
pub fn kind_of(event_type: i64) -> &'static str {
    match event_type {
        59 | 70 => "push_pop",
        60 | 71 => "start_end",
        34 | 64 => "mark",
        33 => "category",
        75 => "domain",
        76 => "domain_destroy",
        39 => "thread_name",
        97..=99 => "cuda_name",
        _ => "other",
    }
}

/// Reads every NVTX event into `sink`.
pub fn read(export: &NsysExport, survey: &mut Survey, sink: Sink<NvtxRecord>) -> Result<()> {
    if !export.has_table(NVTX) {
        super::joins::no_nvtx(export, survey);
        return Ok(());
    }
    export.require_columns(NVTX, &["start", "eventType"])?;
    let text = match (
        export.has_column(NVTX, "textId") && export.has_table(STRINGS),
        export.has_column(NVTX, "text"),
    ) {
        (true, true) => "coalesce(s.value, n.text)",
        (true, false) => "s.value",
        (false, true) => "n.text",
        (false, false) => "NULL",
    };
    let join = if text.contains("s.value") {
        format!("LEFT JOIN {STRINGS} s ON s.id = n.textId")
    } else {
        String::new()
    };
    let mut select = Select::default();
    let thread = select.optional(export, "n", NVTX, "globalTid");
    let start = select.column("n", "start");
    let end = select.optional(export, "n", NVTX, "end");
    let event_type = select.column("n", "eventType");
    let text = select.expr(text);
    let domain = select.optional(export, "n", NVTX, "domainId");
    let sql = format!(
        "SELECT {} FROM {NVTX} n {join} ORDER BY {}, {}, {} DESC",
        select.list(),
        thread + 1,
        start + 1,
        end + 1
    );
    let conn = export.connect()?;
    let error = export.sql_error(NVTX);
    let mut stmt = conn.prepare(&sql).map_err(&error)?;
    let mut rows = stmt.query([]).map_err(&error)?;
    while let Some(row) = rows.next().map_err(&error)? {
        let global_tid: i64 = row
            .get::<_, Option<i64>>(thread)
            .map_err(&error)?
            .unwrap_or(0);
        let record = NvtxRecord {
            wraps_label: false,
            thread: global_tid,
            pid: pid_of(global_tid),
            tid: tid_of(global_tid),
            start: row.get(start).map_err(&error)?,
            end: row.get(end).map_err(&error)?,
            kind: kind_of(row.get(event_type).map_err(&error)?),
            text: row.get(text).map_err(&error)?,
            domain_id: row.get(domain).map_err(&error)?,
        };
        if !sink(record)? {
            break;
        }
    }
    Ok(())
}
