//! The kernel table's columns as the parquetdir importer reads them: which columns,
//! one decoded batch of them ([`KernelColumns`]), and one row turned into the
//! [`Cells`] the SQLite importer also produces ([`kernel_cells`]).
//!
//! Invariant: a row with an impossible cell (a missing required value, a width that
//! does not fit) yields the name of its column, never a guessed value.

use super::store::{at, Batch};
use crate::error::Result;
use crate::ingest::nsys::kernels::Cells;

/// One kernel row's cells, or the column whose value is impossible.
pub(super) fn kernel_cells(
    c: &KernelColumns,
    i: usize,
) -> std::result::Result<Cells, &'static str> {
    let need = |col: &Option<_>, name: &'static str| at(col, i).ok_or(name);
    let small = |col: &Option<_>, name: &'static str| match at(col, i) {
        None => Ok(0),
        Some(v) => i32::try_from(v).map_err(|_| name),
    };
    let device = need(&c.device, "deviceId")?;
    Ok(Cells {
        correlation_id: at(&c.correlation, i),
        global_pid: at(&c.global_pid, i),
        short_id: need(&c.short, "shortName")?,
        demangled_id: need(&c.demangled, "demangledName")?,
        graph_node_id: at(&c.graph_node, i),
        device: i32::try_from(device).map_err(|_| "deviceId")?,
        stream: need(&c.stream, "streamId")?,
        start: need(&c.start, "start")?,
        end: need(&c.end, "end")?,
        grid: [
            small(&c.grid[0], "gridX")?,
            small(&c.grid[1], "gridY")?,
            small(&c.grid[2], "gridZ")?,
        ],
        block: [
            small(&c.block[0], "blockX")?,
            small(&c.block[1], "blockY")?,
            small(&c.block[2], "blockZ")?,
        ],
        registers: small(&c.registers, "registersPerThread")?,
        shared_static: small(&c.shared_static, "staticSharedMemory")?,
        shared_dynamic: small(&c.shared_dynamic, "dynamicSharedMemory")?,
    })
}

/// The kernel columns of one batch.
#[derive(Debug)]
pub(super) struct KernelColumns {
    pub(super) rows: usize,
    start: Option<datafusion::arrow::array::Int64Array>,
    end: Option<datafusion::arrow::array::Int64Array>,
    device: Option<datafusion::arrow::array::Int64Array>,
    stream: Option<datafusion::arrow::array::Int64Array>,
    correlation: Option<datafusion::arrow::array::Int64Array>,
    global_pid: Option<datafusion::arrow::array::Int64Array>,
    short: Option<datafusion::arrow::array::Int64Array>,
    demangled: Option<datafusion::arrow::array::Int64Array>,
    graph_node: Option<datafusion::arrow::array::Int64Array>,
    grid: [Option<datafusion::arrow::array::Int64Array>; 3],
    block: [Option<datafusion::arrow::array::Int64Array>; 3],
    registers: Option<datafusion::arrow::array::Int64Array>,
    shared_static: Option<datafusion::arrow::array::Int64Array>,
    shared_dynamic: Option<datafusion::arrow::array::Int64Array>,
}

/// Every kernel column the importer reads.
pub(super) const KERNEL_COLUMNS: [&str; 18] = [
    "start",
    "end",
    "deviceId",
    "streamId",
    "correlationId",
    "globalPid",
    "shortName",
    "demangledName",
    "graphNodeId",
    "gridX",
    "gridY",
    "gridZ",
    "blockX",
    "blockY",
    "blockZ",
    "registersPerThread",
    "staticSharedMemory",
    "dynamicSharedMemory",
];

impl KernelColumns {
    pub(super) fn of(b: &Batch) -> Result<KernelColumns> {
        let c = |name| b.ints(name);
        Ok(KernelColumns {
            rows: b.rows(),
            start: c("start")?,
            end: c("end")?,
            device: c("deviceId")?,
            stream: c("streamId")?,
            correlation: c("correlationId")?,
            global_pid: c("globalPid")?,
            short: c("shortName")?,
            demangled: c("demangledName")?,
            graph_node: c("graphNodeId")?,
            grid: [c("gridX")?, c("gridY")?, c("gridZ")?],
            block: [c("blockX")?, c("blockY")?, c("blockZ")?],
            registers: c("registersPerThread")?,
            shared_static: c("staticSharedMemory")?,
            shared_dynamic: c("dynamicSharedMemory")?,
        })
    }
}
