//! A DataFusion session over the dataset root: one listing table per table
//! directory, partitioned by `run` (each `run=<key>` a link that the local object
//! store follows); `--run` (a run id or its key) turns each into a filtered view.
//!
//! Known tables use the schemas of [`crate::dataset::schema`] (no inference, stable
//! across runs); a table with no data yet is registered empty with its schema, so
//! every shipped query plans on any dataset. How one table is registered (and its
//! part files checked) is in the sibling `register` module.
//!
//! Tables are registered when a statement first names them, not when the session
//! opens: a question about `step_categories` over 10,000 runs never lists, pins or
//! checks the other tables' 60,000 part files. The pin still resolves each run's
//! generation once, on first use, for every table of that run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::prelude::{SessionConfig, SessionContext};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use super::pin::Pin;
use super::register::register;
pub use super::register::Where;
use super::rollup::ROLLUP_TABLE;
use crate::dataset::compact::Generations;
use crate::dataset::schema::{INGEST_TABLES, LATENCY_TABLE, MODEL_FLOPS_TABLE};
use crate::error::{Error, Result};

/// A session with the dataset's tables registered.
pub struct Session {
    pub(super) ctx: SessionContext,
    tables: Vec<String>,
    pub(super) root: PathBuf,
    pub(super) run: Option<String>,
    pub(super) place: Where,
    /// The generations this (local) session reads; removed with the session.
    pub(super) pin: Mutex<Option<Pin>>,
    /// Tables registered so far.
    registered: Mutex<HashSet<String>>,
    /// The runs `shape_categories` holds and their generations, once registered
    /// run by run (see [`super::rollup`]).
    rollup: Mutex<Option<Generations>>,
}

/// Opens `root` in a local session; with `run`, every table shows only that run.
pub async fn open(root: &Path, run: Option<&str>) -> Result<Session> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    open_in(ctx, root, run, Where::Local).await
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
            let known: Vec<String> = super::summaries::runs_in(root, "runs")
                .into_iter()
                .collect();
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
    names.push(ROLLUP_TABLE.to_string());
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
    // A cluster's executors cannot see a local pin: they list the dataset itself.
    let pin = match place {
        Where::Local => Some(Pin::new()?),
        Where::Cluster => None,
    };
    Ok(Session {
        ctx,
        tables: names,
        root: root.to_path_buf(),
        run: run.map(str::to_string),
        place,
        pin: Mutex::new(pin),
        registered: Mutex::new(HashSet::new()),
        rollup: Mutex::new(None),
    })
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

impl Session {
    /// Registers the dataset tables `sql` names (all of them when it asks the
    /// information schema, or cannot be parsed here: planning then says why).
    async fn register_named(&self, sql: &str) -> Result<()> {
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let named: Option<Vec<String>> = state
            .sql_to_statement(sql, &dialect)
            .and_then(|statement| state.resolve_table_references(&statement))
            .ok()
            .map(|refs| {
                refs.iter()
                    .map(|r| r.table().trim_start_matches("__all_").to_string())
                    .collect()
            });
        let wanted: Vec<String> = match named {
            Some(names) if !names.iter().any(|n| n == "tables" || n == "columns") => names,
            _ => self.tables.clone(),
        };
        self.register_tables(&wanted).await
    }

    /// Registers `names` (those the dataset has and the session has not registered).
    pub(super) async fn register_tables(&self, names: &[String]) -> Result<()> {
        let mut todo: Vec<&String> = {
            let done = self.registered.lock().map_err(|_| poisoned())?;
            names
                .iter()
                .filter(|n| self.tables.contains(n) && !done.contains(*n))
                .collect()
        };
        todo.sort();
        todo.dedup();
        if todo.is_empty() {
            return Ok(());
        }
        // The rollup is a view, registered after the tables it may read.
        let rollup = todo.iter().any(|n| n.as_str() == ROLLUP_TABLE);
        todo.retain(|n| n.as_str() != ROLLUP_TABLE);
        let summaries = todo.iter().any(|n| n.as_str() == "step_categories");
        // The pin is taken out while tables register (no lock held across awaits).
        let mut pin = self.pin.lock().map_err(|_| poisoned())?.take();
        let mut outcome = Ok(());
        for name in &todo {
            outcome = register(
                &self.ctx,
                &self.root,
                name,
                self.run.as_deref(),
                self.place,
                pin.as_mut(),
            )
            .await;
            if outcome.is_err() {
                break;
            }
            self.registered
                .lock()
                .map_err(|_| poisoned())?
                .insert(name.to_string());
        }
        *self.pin.lock().map_err(|_| poisoned())? = pin;
        outcome?;
        if summaries {
            let missing = super::summaries::missing(&self.root, self.run.as_deref());
            if !missing.is_empty() {
                // Runs without summaries read them as a grouping of `kernels`.
                Box::pin(self.register_tables(&["kernels".to_string()])).await?;
                super::summaries::cover_missing(&self.ctx, &missing).await?;
            }
        }
        if rollup {
            let generations = super::rollup::register(self).await?;
            *self.rollup.lock().map_err(|_| poisoned())? = generations;
            self.registered
                .lock()
                .map_err(|_| poisoned())?
                .insert(ROLLUP_TABLE.to_string());
        }
        Ok(())
    }

    /// The runs `shape_categories` held in this session and the generations they
    /// were read from; `None` when it was the rollup of `step_categories` whole.
    pub fn rollup_generations(&self) -> Result<Option<Generations>> {
        Ok(self.rollup.lock().map_err(|_| poisoned())?.clone())
    }

    /// Plans and runs a read-only `sql`; errors name `origin` and list the tables
    /// and columns.
    pub async fn run(&self, sql: &str, origin: &str) -> Result<QueryResult> {
        self.run_with(sql, origin, Writes::None).await
    }

    /// Like [`Session::run`], allowing `writes`.
    pub async fn run_with(&self, sql: &str, origin: &str, writes: Writes) -> Result<QueryResult> {
        self.register_named(sql).await?;
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
            if crate::dataset::layout::is_inside(&self.root, location) {
                return refuse(format!("{location:?}"));
            }
        }
        Ok(())
    }

    /// "available tables: name(col, …)" for error messages.
    pub async fn describe_tables(&self) -> String {
        let _ = self.register_tables(&self.tables).await;
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

fn poisoned() -> Error {
    Error::Query {
        context: "query session".into(),
        reason: "a previous query panicked while registering tables".into(),
    }
}

/// A query's result: its schema (also when there are no rows) and batches.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// Total number of rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}
