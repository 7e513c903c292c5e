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
use std::sync::{Arc, Mutex};

pub use export::NsysExport;
use export::{KERNEL, MEMCPY, MEMSET, NVTX, RUNTIME};
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
    /// Indexes keyed by process (`true`) or by correlation id alone (`false`).
    launches: Mutex<[Option<Arc<LaunchIndex>>; 2]>,
}

impl NsysImporter {
    /// Opens `path` and checks that it is an nsys export.
    pub fn open(path: &Path) -> Result<NsysImporter> {
        Ok(NsysImporter {
            export: NsysExport::open(path)?,
            launches: Mutex::new([None, None]),
        })
    }

    /// True when `table` can be joined to the API calls on correlation ids.
    fn joinable(&self, table: &str) -> bool {
        let e = &self.export;
        e.has_table(RUNTIME)
            && e.has_column(table, "correlationId")
            && e.has_column(RUNTIME, "correlationId")
            && e.has_column(RUNTIME, "globalTid")
    }

    /// The API-call index keyed as asked, built on first use.
    fn launches(&self, by_process: bool) -> Result<Arc<LaunchIndex>> {
        let slot = usize::from(by_process);
        if let Some(index) = self.cached(slot) {
            return Ok(index);
        }
        let index = Arc::new(LaunchIndex::build(&self.export, by_process)?);
        if let Ok(mut cache) = self.launches.lock() {
            cache[slot] = Some(Arc::clone(&index));
        }
        Ok(index)
    }

    fn cached(&self, slot: usize) -> Option<Arc<LaunchIndex>> {
        self.launches.lock().ok().and_then(|c| c[slot].clone())
    }

    fn unjoinable_warning(&self, table: &str, survey: &mut Survey) {
        survey.warn(format!(
            "{}: {table} cannot be joined to CUDA API calls (no CUPTI_ACTIVITY_KIND_RUNTIME table or correlation ids): its rows stay unattributed",
            self.export.path.display()
        ));
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
        if !self.export.has_table(KERNEL) {
            survey.warn(format!(
                "{}: no CUPTI_ACTIVITY_KIND_KERNEL table: the capture recorded no GPU kernels (was CUDA traced with `-t cuda`, and did the profiled range run any?)",
                self.export.path.display()
            ));
            return Ok(());
        }
        if self.joinable(KERNEL) {
            self.launches(self.export.has_column(KERNEL, "globalPid"))?;
        } else {
            self.unjoinable_warning(KERNEL, survey);
        }
        Ok(())
    }

    fn kernel_chunks(&self, order: KernelOrder, wanted: i64, max_rows: i64) -> Result<Vec<Chunk>> {
        kernels::chunks(&self.export, order, wanted, max_rows)
    }

    fn kernels(&self, chunk: &Chunk, survey: &mut Survey, sink: Sink<KernelRecord>) -> Result<()> {
        let index = if self.joinable(KERNEL) {
            Some(self.launches(self.export.has_column(KERNEL, "globalPid"))?)
        } else {
            None
        };
        kernels::read(&self.export, chunk, index.as_deref(), survey, sink)
    }

    fn memops(&self, survey: &mut Survey, sink: Sink<MemopRecord>) -> Result<()> {
        let mut unjoinable = false;
        let launches = |by_process: bool| -> Result<Option<Arc<LaunchIndex>>> {
            if self.joinable(MEMCPY) || self.joinable(MEMSET) {
                self.launches(by_process).map(Some)
            } else {
                unjoinable = true;
                Ok(None)
            }
        };
        memops::read(&self.export, launches, survey, sink)?;
        if unjoinable {
            self.unjoinable_warning("memops", survey);
        }
        Ok(())
    }

    fn facts(&self, devices: &BTreeSet<i32>) -> Result<RunFacts> {
        meta::read(&self.export, devices)
    }

    fn graph_nodes(&self) -> Result<Option<Vec<GraphNodeEvent>>> {
        modules::read_graph_nodes(&self.export)
    }
}
