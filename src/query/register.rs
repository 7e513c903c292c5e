//! Registering one dataset table directory in a DataFusion session, for
//! [`super::session`]: `<root>/<table>/run=<key>/*.parquet` becomes a listing table
//! `__all_<table>` partitioned by `run`, and the table's own name a view over it
//! (filtered to one run with `--run`).
//!
//! Known tables use the schemas of [`crate::dataset::schema`] (no inference, stable
//! across runs) and their part files are checked against it first; a known table with
//! no data yet is registered empty with its schema (locally an empty in-memory table,
//! on a cluster a view over no rows), so every shipped query plans on any dataset.
//! Unknown tables with data get an inferred schema; unknown tables without data are
//! not registered.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;

use super::pin::Pin;
use crate::dataset::schema::schema_of;
use crate::error::{Error, Result};

/// Where a session's plans run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    Local,
    /// On a Ballista cluster: every table must be one its executors can scan from
    /// the plan (a listing table over a path), never an in-memory one.
    Cluster,
}

fn query_error(context: impl Into<String>, e: impl std::fmt::Display) -> Error {
    Error::Query {
        context: context.into(),
        reason: e.to_string(),
    }
}

pub(super) async fn register(
    ctx: &SessionContext,
    root: &Path,
    name: &str,
    run: Option<&str>,
    place: Where,
    pin: Option<&mut Pin>,
) -> Result<()> {
    let (dir, has_data) = match pin {
        // Locally every run is read through the session's pin (one generation).
        Some(pin) => match pin.table(root, name, run)? {
            Some(pinned) => (pinned, true),
            None => (root.join(name), false),
        },
        None => {
            let dir = root.join(name);
            let has_data = dir.is_dir()
                && std::fs::read_dir(&dir)
                    .map(|mut d| {
                        d.any(|e| {
                            e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("run="))
                        })
                    })
                    .unwrap_or(false);
            (dir, has_data)
        }
    };
    let internal = format!("__all_{name}");
    let known = schema_of(name);
    if let (false, Some(schema), Where::Cluster) = (has_data, &known, place) {
        // On a cluster a table without data is a view over no rows (Ballista can
        // neither ship an in-memory table nor finish a scan of zero files).
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| {
                format!(
                    "CAST(NULL AS {}) AS \"{}\"",
                    sql_type(f.data_type()),
                    f.name()
                )
            })
            .collect();
        ctx.sql(&format!(
            "CREATE VIEW \"{name}\" AS SELECT {}, CAST(NULL AS VARCHAR) AS run WHERE false",
            columns.join(", ")
        ))
        .await
        .map_err(|e| query_error(format!("table {name}"), e))?;
        return Ok(());
    }
    if has_data {
        register_listing(ctx, &dir, &internal, known, place).await?;
    } else if let Some(schema) = known {
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("run", DataType::Utf8, false));
        let schema = Arc::new(Schema::new(fields));
        let empty = MemTable::try_new(schema.clone(), vec![vec![RecordBatch::new_empty(schema)]])
            .map_err(|e| query_error(format!("table {name}"), e))?;
        ctx.register_table(internal.as_str(), Arc::new(empty))
            .map_err(|e| query_error(format!("table {name}"), e))?;
    } else {
        return Ok(());
    }
    let filter = match run {
        Some(run) => format!(" WHERE run = {}", crate::vocab::sql_string(run)),
        None => String::new(),
    };
    ctx.sql(&format!(
        "CREATE VIEW \"{name}\" AS SELECT * FROM \"{internal}\"{filter}"
    ))
    .await
    .map_err(|e| query_error(format!("table {name}"), e))?;
    Ok(())
}

/// Registers `dir` (`run=<key>/*.parquet` below it) as listing table `internal`,
/// partitioned by `run`: with `known`, its part files are checked against that schema
/// first; without, the schema is inferred.
pub(super) async fn register_listing(
    ctx: &SessionContext,
    dir: &Path,
    internal: &str,
    known: Option<Arc<Schema>>,
    place: Where,
) -> Result<()> {
    let name = internal
        .trim_start_matches("__all_")
        .trim_start_matches("__stale_");
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))
        .map_err(|e| query_error(format!("table {name}"), e))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("run".to_string(), DataType::Utf8)]);
    let schema = match known {
        Some(schema) => {
            check_parts(dir, &schema, name)?;
            match place {
                Where::Local => schema,
                // Ballista's shuffles mishandle dictionary columns: executors read
                // them as plain strings (the Parquet reader casts).
                Where::Cluster => plain_strings(&schema),
            }
        }
        None => options
            .infer_schema(&ctx.state(), &url)
            .await
            .map_err(|e| query_error(format!("reading the schema of {}", dir.display()), e))?,
    };
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table =
        ListingTable::try_new(config).map_err(|e| query_error(format!("table {name}"), e))?;
    ctx.register_table(internal, Arc::new(table))
        .map_err(|e| query_error(format!("table {name}"), e))?;
    Ok(())
}

/// `schema` with its dictionary string columns declared as plain strings.
fn plain_strings(schema: &Schema) -> Arc<Schema> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, value) => {
                Field::new(f.name(), value.as_ref().clone(), f.is_nullable())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The SQL type of a dataset column type.
fn sql_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Int32 => "INT",
        DataType::Int64 => "BIGINT",
        DataType::Float64 => "DOUBLE",
        DataType::Boolean => "BOOLEAN",
        _ => "VARCHAR",
    }
}

/// Refuses part files a query would misread: empty files, files that are not
/// Parquet, and files whose columns differ from the table's schema (a listing
/// table would fill missing columns with nulls and drop extra ones silently).
/// Footers are read on every core (a fleet's table has one part per run, or more).
fn check_parts(dir: &Path, schema: &Schema, table: &str) -> Result<()> {
    use rayon::prelude::*;
    let partitions = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for partition in partitions.flatten() {
        let name = partition.file_name().to_string_lossy().to_string();
        if !name.starts_with("run=") {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(partition.path()) else {
            continue;
        };
        files.extend(
            entries
                .flatten()
                .map(|f| f.path())
                .filter(|p| p.extension().is_some_and(|e| e == "parquet")),
        );
    }
    files.sort();
    files
        .par_iter()
        .try_for_each(|path| check_part(path, schema, table))
}

/// One part file against `schema` of `table`.
fn check_part(path: &Path, schema: &Schema, table: &str) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::input(
            path,
            format!("{reason}; this part was not written by `trace ingest` — re-ingest the run or remove the file"),
        ))
    };
    let handle = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if handle.metadata().map_err(|e| Error::io(path, e))?.len() == 0 {
        return bad("empty part file (0 bytes)".into());
    }
    let found = match ParquetRecordBatchReaderBuilder::try_new(handle) {
        Ok(reader) => reader.schema().clone(),
        Err(e) => return bad(format!("not a readable Parquet file ({e})")),
    };
    let names = |s: &Schema| -> Vec<(String, DataType)> {
        s.fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    };
    let (want, have) = (names(schema), names(&found));
    if want != have {
        let missing: Vec<&str> = want
            .iter()
            .filter(|w| !have.contains(w))
            .map(|(n, _)| n.as_str())
            .collect();
        let extra: Vec<&str> = have
            .iter()
            .filter(|h| !want.contains(h))
            .map(|(n, _)| n.as_str())
            .collect();
        return bad(format!(
            "columns differ from table {table}: missing or retyped [{}], unexpected [{}]",
            missing.join(", "),
            extra.join(", ")
        ));
    }
    Ok(())
}
