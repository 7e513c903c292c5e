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

fn value(conn: &Connection, export: &NsysExport, table: &str, key: &str) -> Result<Option<String>> {
    if !export.has_table(table) {
        return Ok(None);
    }
    let sql = format!("SELECT value FROM {table} WHERE name = ?1 LIMIT 1");
    let v: Option<Option<String>> = conn
        .query_row(&sql, [key], |r| r.get(0))
        .optional()
        .map_err(export.sql_error(table))?;
    Ok(v.flatten())
}

/// Reads the whitelisted facts; `devices` are the device ids that ran kernels.
pub fn read(export: &NsysExport, devices: &BTreeSet<i32>) -> Result<RunFacts> {
    let conn = export.connect()?;
    let mut facts = RunFacts::default();
    for table in ["META_DATA_EXPORT", "EXPORT_META_DATA"] {
        if facts.nsys_version.is_none() {
            facts.nsys_version = value(&conn, export, table, "EXPORT_PRODUCT_VERSION")?;
        }
        if facts.schema_version.is_none() {
            facts.schema_version = value(&conn, export, table, "EXPORT_SCHEMA_VERSION")?;
        }
    }
    for key in [
        "CUDA_GRAPH_TRACE_OPTIONS:MODE",
        "PROCESS_0:CUDA_GRAPH_TRACE_OPTIONS:MODE",
    ] {
        if facts.cuda_graph_trace.is_none() {
            facts.cuda_graph_trace = value(&conn, export, "META_DATA_CAPTURE", key)?;
        }
    }
    if export.has_table("TARGET_INFO_SYSTEM_ENV")
        && export.has_column("TARGET_INFO_SYSTEM_ENV", "name")
    {
        facts.cuda_driver_version =
            value(&conn, export, "TARGET_INFO_SYSTEM_ENV", "CudaDriverVersion")?;
    }
    if export.has_table("TARGET_INFO_GPU") && export.has_column("TARGET_INFO_GPU", "name") {
        let error = export.sql_error("TARGET_INFO_GPU");
        let mut stmt = conn
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
