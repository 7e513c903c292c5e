//! The Nsight Systems SQLite importer: [`NsysImporter`] implements
//! [`Importer`](crate::ingest::importer::Importer). This is the only module that
//! knows nsys table and column names (`CUPTI_ACTIVITY_KIND_KERNEL`, `NVTX_EVENTS`,
//! `StringIds`, …), their row counts and their stored order.
//!
//! - [`export`]: open read-only, prove it is an nsys export, probe tables/columns
//!   across schema versions (2.9 → 3.25+), map SQLite failures to clear errors.
//! - [`nvtx`]: NVTX events in `(globalTid, start, end desc)` order.
//! - [`launches`]: the CUDA API calls indexed by (process, correlationId), read by
//!   plain scans over rowid ranges in parallel: the launch join, done in Rust.
//! - [`kernels`]: kernel chunks (rowid ranges, each on its own connection) joined
//!   to their launches; [`memops`]: memcpy and memset rows likewise.
//! - [`meta`]: the whitelisted run facts (versions, GPU model and count).
//! - [`modules`]: CUDA-graph node creation events (graph node → capture time).
//!
//! Ids: `globalTid`/`globalPid` pack `pid` in bits 24–47 and `tid` in bits 0–23.

pub mod export;
mod ids;
mod joins;
mod kernels;
mod launches;
mod memops;
mod meta;
mod modules;
mod nvtx;
mod parquetdir;
mod strings;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

pub use export::NsysExport;
use export::{KERNEL, MEMCPY, MEMSET, NVTX};
use joins::{Launches, Tables};
use launches::LaunchIndex;
pub use parquetdir::ParquetDirImporter;

use crate::attribute::module_index::GraphNodeEvent;
use crate::error::Result;
use crate::ingest::importer::{
    Chunk, Importer, KernelOrder, KernelRecord, MemopRecord, NvtxRecord, RunFacts, Sink,
};
use crate::ingest::survey::Survey;

/// An opened nsys export and its API-call indexes (built once, shared by passes).
#[derive(Debug)]
pub struct NsysImporter {
    export: NsysExport,
    launches: Launches,
}

impl NsysImporter {
    /// Opens `path` and checks that it is an nsys export.
    pub fn open(path: &Path) -> Result<NsysImporter> {
        Ok(NsysImporter {
            export: NsysExport::open(path)?,
            launches: Launches::default(),
        })
    }

    /// The API-call index keyed as asked, built on first use.
    fn launches(&self, by_process: bool) -> Result<Arc<LaunchIndex>> {
        self.launches
            .get(by_process, || LaunchIndex::build(&self.export, by_process))
    }
}

impl Tables for NsysExport {
    fn has_table(&self, table: &str) -> bool {
        NsysExport::has_table(self, table)
    }

    fn has_column(&self, table: &str, column: &str) -> bool {
        NsysExport::has_column(self, table, column)
    }

    fn location(&self) -> &Path {
        &self.path
    }
}

impl Importer for NsysImporter {
    fn path(&self) -> &Path {
        &self.export.path
    }

    fn format(&self) -> &'static str {
        "nsys-sqlite"
    }

    fn nvtx(&self, survey: &mut Survey, sink: Sink<NvtxRecord>) -> Result<()> {
        nvtx::read(&self.export, survey, sink)
    }

    fn nvtx_rows(&self) -> Result<u64> {
        self.export.row_count(NVTX)
    }

    fn kernel_rows(&self) -> Result<u64> {
        self.export.row_count(KERNEL)
    }

    fn memop_rows(&self) -> Result<u64> {
        Ok(self.export.row_count(MEMCPY)? + self.export.row_count(MEMSET)?)
    }

    fn prepare(&self, survey: &mut Survey) -> Result<()> {
        joins::prepare(&self.export, survey, |by| self.launches(by))
    }

    fn kernel_chunks(&self, order: KernelOrder, wanted: i64, max_rows: i64) -> Result<Vec<Chunk>> {
        kernels::chunks(&self.export, order, wanted, max_rows)
    }

    fn kernels(&self, chunk: &Chunk, survey: &mut Survey, sink: Sink<KernelRecord>) -> Result<()> {
        let index = joins::kernel_index(&self.export, |by| self.launches(by))?;
        kernels::read(&self.export, chunk, index.as_deref(), survey, sink)
    }

    fn memops(&self, survey: &mut Survey, sink: Sink<MemopRecord>) -> Result<()> {
        joins::memops_with(
            &self.export,
            survey,
            |by| self.launches(by),
            |launches, survey| memops::read(&self.export, launches, survey, sink),
        )
    }

    fn facts(&self, devices: &BTreeSet<i32>) -> Result<RunFacts> {
        meta::read(&self.export, devices)
    }

    fn graph_nodes(&self) -> Result<Option<Vec<GraphNodeEvent>>> {
        modules::read_graph_nodes(&self.export)
    }
}
