//! What both nsys importers (SQLite and parquetdir) share around the launch join: the
//! API-call indexes built once per importer, whether a table can be joined to the API
//! calls, and the survey warnings for what a capture lacks.
//!
//! Invariant: both importers warn with the same words for the same missing table, so
//! a report reads the same whichever export was ingested.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::export::{KERNEL, MEMCPY, MEMSET, RUNTIME};
use super::launches::LaunchIndex;
use crate::error::Result;
use crate::ingest::survey::Survey;

/// The table and column names an export has.
pub trait Tables {
    fn has_table(&self, table: &str) -> bool;
    fn has_column(&self, table: &str, column: &str) -> bool;
    fn location(&self) -> &Path;
}

/// The API-call indexes of one importer, keyed by process (`true`) or by correlation
/// id alone (`false`), each built on first use and shared by the passes.
#[derive(Debug, Default)]
pub struct Launches(Mutex<[Option<Arc<LaunchIndex>>; 2]>);

impl Launches {
    pub fn get(
        &self,
        by_process: bool,
        build: impl FnOnce() -> Result<LaunchIndex>,
    ) -> Result<Arc<LaunchIndex>> {
        let slot = usize::from(by_process);
        if let Some(index) = self.0.lock().ok().and_then(|c| c[slot].clone()) {
            return Ok(index);
        }
        let index = Arc::new(build()?);
        if let Ok(mut cache) = self.0.lock() {
            cache[slot] = Some(Arc::clone(&index));
        }
        Ok(index)
    }
}

/// True when `table` can be joined to the API calls on correlation ids.
pub fn joinable(t: &dyn Tables, table: &str) -> bool {
    t.has_table(RUNTIME)
        && t.has_column(table, "correlationId")
        && t.has_column(RUNTIME, "correlationId")
        && t.has_column(RUNTIME, "globalTid")
}

/// Kernels are keyed by process when the kernel table has `globalPid`.
pub fn kernels_by_process(t: &dyn Tables) -> bool {
    t.has_column(KERNEL, "globalPid")
}

fn unjoinable(t: &dyn Tables, table: &str, survey: &mut Survey) {
    survey.warn(format!(
        "{}: {table} cannot be joined to CUDA API calls (no CUPTI_ACTIVITY_KIND_RUNTIME table or correlation ids): its rows stay unattributed",
        t.location().display()
    ));
}

/// The warning for an export without NVTX events.
pub fn no_nvtx(t: &dyn Tables, survey: &mut Survey) {
    survey.warn(format!(
        "{}: no NVTX_EVENTS table: the capture has no NVTX ranges, so no kernel can be attributed to a step (profile with `-t cuda,nvtx`)",
        t.location().display()
    ));
}

/// Before the passes: warns about missing kernels or joins, else builds the kernels'
/// index through `launches`.
pub fn prepare(
    t: &dyn Tables,
    survey: &mut Survey,
    launches: impl FnOnce(bool) -> Result<Arc<LaunchIndex>>,
) -> Result<()> {
    if !t.has_table(KERNEL) {
        survey.warn(format!(
            "{}: no CUPTI_ACTIVITY_KIND_KERNEL table: the capture recorded no GPU kernels (was CUDA traced with `-t cuda`, and did the profiled range run any?)",
            t.location().display()
        ));
        return Ok(());
    }
    if joinable(t, KERNEL) {
        launches(kernels_by_process(t))?;
    } else {
        unjoinable(t, KERNEL, survey);
    }
    Ok(())
}

/// The kernels' index, `None` when they cannot be joined.
pub fn kernel_index(
    t: &dyn Tables,
    launches: impl FnOnce(bool) -> Result<Arc<LaunchIndex>>,
) -> Result<Option<Arc<LaunchIndex>>> {
    if joinable(t, KERNEL) {
        launches(kernels_by_process(t)).map(Some)
    } else {
        Ok(None)
    }
}

/// Runs the memop reader `read` with the index getter it expects, warning once when
/// the memops cannot be joined.
pub fn memops_with(
    t: &dyn Tables,
    survey: &mut Survey,
    launches: impl Fn(bool) -> Result<Arc<LaunchIndex>>,
    read: impl FnOnce(
        &mut dyn FnMut(bool) -> Result<Option<Arc<LaunchIndex>>>,
        &mut Survey,
    ) -> Result<()>,
) -> Result<()> {
    let can_join = joinable(t, MEMCPY) || joinable(t, MEMSET);
    let mut asked_unjoinable = false;
    let mut get = |by_process: bool| -> Result<Option<Arc<LaunchIndex>>> {
        if can_join {
            launches(by_process).map(Some)
        } else {
            asked_unjoinable = true;
            Ok(None)
        }
    };
    read(&mut get, survey)?;
    if asked_unjoinable {
        unjoinable(t, "memops", survey);
    }
    Ok(())
}
