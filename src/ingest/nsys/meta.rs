//! The run facts `runs` keeps from an export — a whitelist, read key by key.
//!
//! nsys stores the profiled process's whole environment and command line
//! (`META_DATA_CAPTURE` `PROCESS_0:ENVIRONMENT_VARIABLE`, `ARGUMENT_n`), the host
//! and user (`META_DATA_EXPORT`, `TARGET_INFO_SYSTEM_ENV`). None of that is read:
//! only the keys named here are, so nothing private can reach the dataset.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension};

use super::export::NsysExport;
use crate::error::Result;
use crate::ingest::importer::RunFacts;

/// A `TARGET_INFO_GPU` row: its id and name.
pub type Gpu = (i64, Option<String>);

/// Where the facts are read from (either store).
pub trait FactSource {
    /// The value of `key` in the name/value table `table` (`None` when the table, its
    /// `name` column or the key is absent).
    fn value(&self, table: &str, key: &str) -> Result<Option<String>>;
    /// `TARGET_INFO_GPU` (id, name) rows, `None` without that table or column.
    fn gpus(&self) -> Result<Option<Vec<Gpu>>>;
}

struct Sqlite<'a> {
    conn: Connection,
    export: &'a NsysExport,
}

impl FactSource for Sqlite<'_> {
    fn value(&self, table: &str, key: &str) -> Result<Option<String>> {
        if !self.export.has_table(table) || !self.export.has_column(table, "name") {
            return Ok(None);
        }
        let sql = format!("SELECT value FROM {table} WHERE name = ?1 LIMIT 1");
        let v: Option<Option<String>> = self
            .conn
            .query_row(&sql, [key], |r| r.get(0))
            .optional()
            .map_err(self.export.sql_error(table))?;
        Ok(v.flatten())
    }

    fn gpus(&self) -> Result<Option<Vec<Gpu>>> {
        let export = self.export;
        if !export.has_table("TARGET_INFO_GPU") || !export.has_column("TARGET_INFO_GPU", "name") {
            return Ok(None);
        }
        let error = export.sql_error("TARGET_INFO_GPU");
        let mut stmt = self
            .conn
            .prepare("SELECT id, name FROM TARGET_INFO_GPU")
            .map_err(&error)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(&error)?;
        let mut all = Vec::new();
        for row in rows {
            all.push(row.map_err(&error)?);
        }
        Ok(Some(all))
    }
}

/// Reads the whitelisted facts of an SQLite export; `devices` are the GPU ids its
/// kernels ran on (their names win over the host's other GPUs).
pub fn read(export: &NsysExport, devices: &BTreeSet<i32>) -> Result<RunFacts> {
    let source = Sqlite {
        conn: export.connect()?,
        export,
    };
    facts(&source, devices)
}

/// The whitelisted facts from `source`.
pub fn facts(source: &dyn FactSource, devices: &BTreeSet<i32>) -> Result<RunFacts> {
    let mut facts = RunFacts::default();
    for table in ["META_DATA_EXPORT", "EXPORT_META_DATA"] {
        if facts.nsys_version.is_none() {
            facts.nsys_version = source.value(table, "EXPORT_PRODUCT_VERSION")?;
        }
        if facts.schema_version.is_none() {
            facts.schema_version = source.value(table, "EXPORT_SCHEMA_VERSION")?;
        }
    }
    for key in [
        "CUDA_GRAPH_TRACE_OPTIONS:MODE",
        "PROCESS_0:CUDA_GRAPH_TRACE_OPTIONS:MODE",
    ] {
        if facts.cuda_graph_trace.is_none() {
            facts.cuda_graph_trace = source.value("META_DATA_CAPTURE", key)?;
        }
    }
    facts.cuda_driver_version = source.value("TARGET_INFO_SYSTEM_ENV", "CudaDriverVersion")?;
    if let Some(all) = source.gpus()? {
        facts.host_gpus = Some(all.len() as i32);
        let used: Vec<&String> = all
            .iter()
            .filter(|(id, _)| devices.contains(&(*id as i32)))
            .filter_map(|(_, name)| name.as_ref())
            .collect();
        let names: Vec<&String> = if used.is_empty() {
            all.iter().filter_map(|(_, n)| n.as_ref()).collect()
        } else {
            used
        };
        facts.gpu_names = names.into_iter().cloned().collect();
    }
    Ok(facts)
}
