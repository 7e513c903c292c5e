//! Module evidence from an nsys export: the harness's module NVTX ranges
//! (`module:<qualified>:<Class>`) and the CUDA-graph node creation events that
//! tie a replayed kernel to the module open when its node was captured.
//!
//! Invariants:
//! - Only closed NVTX ranges (push/pop or start/end, `end` not null) whose
//!   message starts with `module:`, `nn.Module: ` or `{'Module': '` (SGLang's
//!   layer-wise markers) are read; the message is
//!   `coalesce(StringIds[textId], text)` as in [`super::nvtx`].
//! - Node creation events come from `CUDA_GRAPH_NODE_EVENTS` (nsys 2024+), or
//!   from `CUDA_GRAPH_EVENTS` when that older table still carries `graphNodeId`
//!   (2022.4 – 2023.4). Neither present: `None`, and graph kernels fall back to
//!   names, counted by the kernel pass.

use super::export::{NsysExport, NVTX, STRINGS};
use crate::attribute::module_index::{GraphNodeEvent, ModuleRange};
use crate::error::Result;
use crate::ingest::sanity;

/// The module NVTX ranges of the export, in any order.
pub fn read_ranges(export: &NsysExport) -> Result<Vec<ModuleRange>> {
    if !export.has_table(NVTX) || !export.has_column(NVTX, "end") {
        return Ok(Vec::new());
    }
    let text = match (
        export.has_column(NVTX, "textId") && export.has_table(STRINGS),
        export.has_column(NVTX, "text"),
    ) {
        (true, true) => "coalesce(s.value, n.text)",
        (true, false) => "s.value",
        (false, true) => "n.text",
        (false, false) => return Ok(Vec::new()),
    };
    let join = if text.contains("s.value") {
        "LEFT JOIN StringIds s ON s.id = n.textId"
    } else {
        ""
    };
    // 59/60: push/pop and start/end ranges; 70/71: their NVTXT twins.
    let sql = format!(
        "SELECT {tid}, n.start, n.\"end\", {text} AS message
         FROM NVTX_EVENTS n {join}
         WHERE n.eventType IN (59, 60, 70, 71) AND n.\"end\" IS NOT NULL
           AND (message LIKE 'module:%' OR message LIKE 'nn.Module: %' OR message LIKE '{{''Module'': ''%')",
        tid = export.column_or_null("n", NVTX, "globalTid"),
    );
    let conn = export.connect()?;
    let error = export.sql_error(NVTX);
    let mut stmt = conn.prepare(&sql).map_err(&error)?;
    let mut rows = stmt.query([]).map_err(&error)?;
    let mut ranges = Vec::new();
    while let Some(row) = rows.next().map_err(&error)? {
        let start: i64 = row.get(1).map_err(&error)?;
        let end: i64 = row.get(2).map_err(&error)?;
        if sanity::interval(start, end).is_err() {
            // The NVTX pass counts impossible ranges once; not a module either.
            continue;
        }
        ranges.push(ModuleRange {
            thread: row.get::<_, Option<i64>>(0).map_err(&error)?.unwrap_or(0),
            start,
            end,
            text: row.get(3).map_err(&error)?,
        });
    }
    Ok(ranges)
}

/// The graph-node creation events, or `None` when the export has no such table.
pub fn read_graph_nodes(export: &NsysExport) -> Result<Option<Vec<GraphNodeEvent>>> {
    let Some(table) = ["CUDA_GRAPH_NODE_EVENTS", "CUDA_GRAPH_EVENTS"]
        .into_iter()
        .find(|t| export.has_table(t) && export.has_column(t, "graphNodeId"))
    else {
        return Ok(None);
    };
    export.require_columns(table, &["start", "graphNodeId"])?;
    let sql = format!(
        "SELECT g.graphNodeId, {original}, {tid}, g.start FROM {table} g WHERE g.graphNodeId IS NOT NULL",
        original = export.column_or_null("g", table, "originalGraphNodeId"),
        tid = export.column_or_null("g", table, "globalTid"),
    );
    let conn = export.connect()?;
    let error = export.sql_error(table);
    let mut stmt = conn.prepare(&sql).map_err(&error)?;
    let mut rows = stmt.query([]).map_err(&error)?;
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(&error)? {
        events.push(GraphNodeEvent {
            node: row.get(0).map_err(&error)?,
            original: row.get(1).map_err(&error)?,
            thread: row.get(2).map_err(&error)?,
            start: row.get(3).map_err(&error)?,
        });
    }
    Ok(Some(events))
}
