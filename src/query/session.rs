//! A DataFusion session over the dataset root: one listing table per table
//! directory, partitioned by `run`; `--run` turns each into a filtered view.
//!
//! Known tables use the schemas of [`crate::model::schema`] (no inference, stable
//! across runs); a table with no data yet is registered empty with its schema, so
//! every shipped query plans on any dataset.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::QueryResult;
use crate::error::{Error, Result};
use crate::model::schema::{schema_of, INGEST_TABLES, LATENCY_TABLE, MODEL_FLOPS_TABLE};

/// A session with the dataset's tables registered.
pub struct Session {
    ctx: SessionContext,
    tables: Vec<String>,
}

fn query_error(context: impl Into<String>, e: impl std::fmt::Display) -> Error {
    Error::Query {
        context: context.into(),
        reason: e.to_string(),
    }
}

/// Opens `root`; with `run`, every table shows only that run.
pub async fn open(root: &Path, run: Option<&str>) -> Result<Session> {
    if !root.is_dir() {
        return Err(Error::Usage(format!(
            "no dataset at {}: run `trace ingest REPORT.sqlite --out {}` first (or pass --data DIR)",
            root.display(),
            root.display()
        )));
    }
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
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
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
        register(&ctx, root, name, run).await?;
    }
    Ok(Session { ctx, tables: names })
}

async fn register(ctx: &SessionContext, root: &Path, name: &str, run: Option<&str>) -> Result<()> {
    let dir = root.join(name);
    let has_data = dir.is_dir()
        && std::fs::read_dir(&dir)
            .map(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("run=")))
            })
            .unwrap_or(false);
    let internal = format!("__all_{name}");
    let known = schema_of(name);
    if has_data {
        let url = ListingTableUrl::parse(format!("{}/", dir.display()))
            .map_err(|e| query_error(format!("table {name}"), e))?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![("run".to_string(), DataType::Utf8)]);
        let schema = match known {
            Some(schema) => schema,
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

impl Session {
    /// Plans and runs `sql`; errors name `origin` and list the tables and columns.
    pub async fn run(&self, sql: &str, origin: &str) -> Result<QueryResult> {
        let result = async {
            let frame = self.ctx.sql(sql).await?;
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
