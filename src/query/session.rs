//! A DataFusion session over the dataset root: one listing table per table
//! directory, partitioned by `run` (each `run=<key>` a link that the local object
//! store follows); `--run` (a run id or its key) turns each into a filtered view.
//!
//! Known tables use the schemas of [`crate::dataset::schema`] (no inference, stable
//! across runs); a table with no data yet is registered empty with its schema, so
//! every shipped query plans on any dataset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::QueryResult;
use crate::dataset::schema::{schema_of, INGEST_TABLES, LATENCY_TABLE, MODEL_FLOPS_TABLE};
use crate::error::{Error, Result};

/// A session with the dataset's tables registered.
pub struct Session {
    ctx: SessionContext,
    tables: Vec<String>,
    root: PathBuf,
}

/// True when `location` (a path or `file://` URL) lies under `root`, judged on
/// canonical paths (links followed) of the longest existing ancestor.
fn is_inside(root: &Path, location: &str) -> bool {
    let path = Path::new(location.strip_prefix("file://").unwrap_or(location));
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let Ok(root) = std::fs::canonicalize(root) else {
        return false;
    };
    let mut probe = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(probe) {
            let full = rest.iter().rev().fold(canonical, |p, c| p.join(c));
            return full.starts_with(&root);
        }
        match (probe.parent(), probe.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                probe = parent;
            }
            _ => return absolute.starts_with(&root),
        }
    }
}

fn query_error(context: impl Into<String>, e: impl std::fmt::Display) -> Error {
    Error::Query {
        context: context.into(),
        reason: e.to_string(),
    }
}

/// Opens `root` in a local session; with `run`, every table shows only that run.
pub async fn open(root: &Path, run: Option<&str>) -> Result<Session> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    open_in(ctx, root, run, Where::Local).await
}

/// Where a session's plans run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    Local,
    /// On a Ballista cluster: every table must be one its executors can scan from
    /// the plan (a listing table over a path), never an in-memory one.
    Cluster,
}

/// Opens `root` in `ctx` (a local session, or a Ballista cluster's, see
/// [`crate::cluster`]): the same tables and views either way.
pub async fn open_in(
    ctx: SessionContext,
    root: &Path,
    run: Option<&str>,
    place: Where,
) -> Result<Session> {
    if !root.is_dir() {
        return Err(Error::Usage(format!(
            "no dataset at {}: run `trace ingest REPORT.sqlite --out {}` first (or pass --data DIR)",
            root.display(),
            root.display()
        )));
    }
    // `--run` takes the run id as given (mapped to its partition key) or the key.
    let key = run.map(|run| {
        crate::dataset::partition_key(run)
            .ok()
            .filter(|key| root.join("runs").join(format!("run={key}")).is_dir())
            .unwrap_or_else(|| run.to_string())
    });
    let run = key.as_deref();
    if let Some(run) = run {
        let runs_dir = root.join("runs");
        if !runs_dir.join(format!("run={run}")).is_dir() {
            let mut known: Vec<String> = std::fs::read_dir(&runs_dir)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| {
                            e.file_name()
                                .to_string_lossy()
                                .strip_prefix("run=")
                                .map(String::from)
                        })
                        .collect()
                })
                .unwrap_or_default();
            known.sort();
            return Err(Error::Usage(format!(
                "no run {run:?} in {}; runs: {}",
                root.display(),
                if known.is_empty() {
                    "(none)".into()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    let mut names: Vec<String> = INGEST_TABLES.iter().map(|t| t.to_string()).collect();
    names.push(LATENCY_TABLE.to_string());
    names.push(MODEL_FLOPS_TABLE.to_string());
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_dir()
                && !name.starts_with('.')
                && !name.starts_with('_')
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
    }
    names.sort();
    for name in &names {
        register(&ctx, root, name, run, place).await?;
    }
    Ok(Session {
        ctx,
        tables: names,
        root: root.to_path_buf(),
    })
}

async fn register(
    ctx: &SessionContext,
    root: &Path,
    name: &str,
    run: Option<&str>,
    place: Where,
) -> Result<()> {
    let dir = root.join(name);
    let has_data = dir.is_dir()
        && std::fs::read_dir(&dir)
            .map(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("run=")))
            })
            .unwrap_or(false);
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
        let url = ListingTableUrl::parse(format!("{}/", dir.display()))
            .map_err(|e| query_error(format!("table {name}"), e))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![("run".to_string(), DataType::Utf8)]);
        let schema = match known {
            Some(schema) => {
                check_parts(&dir, &schema)?;
                schema
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
        ctx.register_table(internal.as_str(), Arc::new(table))
            .map_err(|e| query_error(format!("table {name}"), e))?;
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
        Some(run) => format!(" WHERE run = '{}'", run.replace('\'', "''")),
        None => String::new(),
    };
    ctx.sql(&format!(
        "CREATE VIEW \"{name}\" AS SELECT * FROM \"{internal}\"{filter}"
    ))
    .await
    .map_err(|e| query_error(format!("table {name}"), e))?;
    Ok(())
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

/// What a query may change besides reading the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Only reads (`SELECT`, `WITH`, `EXPLAIN`, `SHOW`, `DESCRIBE`): the default.
    None,
    /// `COPY … TO`, `CREATE EXTERNAL TABLE … LOCATION` and `INSERT` into tables
    /// created so, all outside the dataset root (`trace query --allow-write`).
    OutsideDataset,
}

/// Refuses part files a query would misread: empty files, files that are not
/// Parquet, and files whose columns differ from the table's schema (a listing
/// table would fill missing columns with nulls and drop extra ones silently).
fn check_parts(dir: &Path, schema: &Schema) -> Result<()> {
    let partitions = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for partition in partitions.flatten() {
        let name = partition.file_name().to_string_lossy().to_string();
        if !name.starts_with("run=") {
            continue;
        }
        let Ok(files) = std::fs::read_dir(partition.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "parquet") {
                continue;
            }
            let bad = |reason: String| {
                Err(Error::input(
                    &path,
                    format!("{reason}; this part was not written by `trace ingest` — re-ingest the run or remove the file"),
                ))
            };
            let handle = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            if handle.metadata().map_err(|e| Error::io(&path, e))?.len() == 0 {
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
                    "columns differ from table {}: missing or retyped [{}], unexpected [{}]",
                    dir.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                    missing.join(", "),
                    extra.join(", ")
                ));
            }
        }
    }
    Ok(())
}

impl Session {
    /// Plans and runs a read-only `sql`; errors name `origin` and list the tables
    /// and columns.
    pub async fn run(&self, sql: &str, origin: &str) -> Result<QueryResult> {
        self.run_with(sql, origin, Writes::None).await
    }

    /// Like [`Session::run`], allowing `writes`.
    pub async fn run_with(&self, sql: &str, origin: &str, writes: Writes) -> Result<QueryResult> {
        let read_only = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let plan = match writes {
            Writes::None => self.ctx.state().create_logical_plan(sql).await.and_then(|plan| {
                read_only.verify_plan(&plan).map_err(|e| {
                    datafusion::error::DataFusionError::Plan(format!(
                        "{e}; `trace query` only reads (SELECT, WITH, EXPLAIN); to write results use --out, or --allow-write to COPY outside the dataset"
                    ))
                })?;
                Ok(plan)
            }),
            Writes::OutsideDataset => self.ctx.state().create_logical_plan(sql).await,
        };
        if let (Ok(plan), Writes::OutsideDataset) = (&plan, writes) {
            self.check_writes(plan, origin)?;
        }
        let result = async {
            let frame = self.ctx.execute_logical_plan(plan?).await?;
            let schema = frame.schema().inner().clone();
            Ok::<_, datafusion::error::DataFusionError>(QueryResult {
                schema,
                batches: frame.collect().await?,
            })
        }
        .await;
        match result {
            Ok(result) => Ok(result),
            Err(e) => Err(Error::Query {
                context: format!("query {origin}"),
                reason: format!("{e}\n{}", self.describe_tables().await),
            }),
        }
    }

    /// Refuses a write into the dataset root or into one of its tables.
    fn check_writes(&self, plan: &LogicalPlan, origin: &str) -> Result<()> {
        let refuse = |what: String| {
            Err(Error::Usage(format!(
                "query {origin}: {what} is inside the dataset {}; trace query never writes there (only `trace ingest` does)",
                self.root.display()
            )))
        };
        let locations: Vec<&String> = match plan {
            LogicalPlan::Copy(copy) => vec![&copy.output_url],
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(table)) => {
                table.locations.iter().collect()
            }
            LogicalPlan::Dml(dml) => {
                let name = dml.table_name.table().to_string();
                let dataset = self
                    .tables
                    .iter()
                    .any(|t| *t == name || format!("__all_{t}") == name);
                return if dataset {
                    refuse(format!("table {name}"))
                } else {
                    Ok(())
                };
            }
            _ => Vec::new(),
        };
        for location in locations {
            if is_inside(&self.root, location) {
                return refuse(format!("{location:?}"));
            }
        }
        Ok(())
    }

    /// "available tables: name(col, …)" for error messages.
    pub async fn describe_tables(&self) -> String {
        let mut lines = vec!["available tables:".to_string()];
        for name in &self.tables {
            if let Ok(table) = self.ctx.table(name.as_str()).await {
                let columns: Vec<String> = table
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                lines.push(format!("  {name}({})", columns.join(", ")));
            }
        }
        lines.join("\n")
    }
}
