//! The CUDA-graph node creation events of an nsys export, which tie a replayed
//! kernel to the module range open when its node was captured (the module
//! ranges themselves are NVTX rows; the pipeline picks them out).
//!
//! Invariant:
//! - Node creation events come from `CUDA_GRAPH_NODE_EVENTS` (nsys 2024+), or
//!   from `CUDA_GRAPH_EVENTS` when that older table still carries `graphNodeId`
//!   (2022.4 – 2023.4). Neither present: `None`, and graph kernels fall back to
//!   names, counted by the kernel pass.

use super::export::NsysExport;
use crate::attribute::module_index::GraphNodeEvent;
use crate::error::Result;

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
