//! SQL over the dataset with DataFusion.
//!
//! [`session`] registers every table under the dataset root (Hive-partitioned by
//! `run`, so the `run` column is always present), [`catalog`] finds a named query
//! and fills its parameters, [`format`] writes results as a table, CSV, JSON or
//! Parquet. [`execute`] is what notebooks-minded tests call; [`run`] is the CLI path.

pub mod catalog;
pub mod format;
pub mod internal;
mod pin;
pub mod reader;
mod register;
pub mod rollup;
pub mod session;
mod summaries;

use std::path::PathBuf;

pub use format::OutputFormat;
pub use session::QueryResult;

use crate::error::{Error, Result};

/// What to run.
#[derive(Debug, Clone)]
pub enum QuerySource {
    /// A shipped or user query by name (`queries/<name>.sql`).
    Named(String),
    /// Ad-hoc SQL text.
    Sql(String),
}

/// A resolved `trace query` invocation.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Dataset root (`results/parquet`).
    pub data_dir: PathBuf,
    pub source: QuerySource,
    /// Restrict every table to this run.
    pub run: Option<String>,
    /// `key=value` parameters for `${key}` placeholders.
    pub params: Vec<(String, String)>,
    /// Directory searched for `<name>.sql` before the built-in queries.
    pub queries_dir: Option<PathBuf>,
}

/// Runs the query (read-only) and returns its result.
pub fn execute(config: &QueryConfig) -> Result<QueryResult> {
    execute_with(config, session::Writes::None)
}

/// Runs the query allowing `writes` (see [`session::Writes`]).
pub fn execute_with(config: &QueryConfig, writes: session::Writes) -> Result<QueryResult> {
    execute_on(config, writes, None)
}

/// Runs the query locally, or with `cluster` (`df://HOST:PORT`) on a Ballista
/// cluster ([`crate::cluster`]); either way the same tables and the same result.
pub fn execute_on(
    config: &QueryConfig,
    writes: session::Writes,
    cluster: Option<&str>,
) -> Result<QueryResult> {
    let (sql, origin) = match &config.source {
        QuerySource::Named(name) => {
            let query = catalog::find(name, config.queries_dir.as_deref())?;
            (catalog::bind(&query, &config.params)?, query.origin)
        }
        QuerySource::Sql(sql) => {
            if !config.params.is_empty() {
                let query = catalog::Query::adhoc(sql);
                (catalog::bind(&query, &config.params)?, "--sql".to_string())
            } else {
                (sql.clone(), "--sql".to_string())
            }
        }
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        let run = config.run.as_deref();
        let session = match cluster {
            Some(url) => {
                let ctx = crate::cluster::remote_context(url).await?;
                session::open_in(ctx, &config.data_dir, run, session::Where::Cluster).await?
            }
            None => session::open(&config.data_dir, run).await?,
        };
        session.run_with(&sql, &origin, writes).await
    })
}

/// The async runtime DataFusion queries run on (one per command).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Query {
            context: "starting the query runtime".into(),
            reason: e.to_string(),
        })
}
