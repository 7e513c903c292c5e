//! `shape_categories`: `step_categories` rolled up over steps — one row per run,
//! phase, shape, device, in-steps or not, category, name category, category source
//! and launch kind, with the kernels, GPU time and module time summed and `steps`,
//! the labelled steps of the row's (run, phase, bsz, seq). A run has a few dozen such
//! rows where it has thousands of `step_categories` rows, and the shipped fleet
//! questions (categories by shape, kernels by phase, coverage) need no more.
//!
//! Locally the table is read from the dataset's compacted file
//! ([`crate::dataset::compact`]) for every run whose pinned generation is the one the
//! file was computed from, and rolled up from the `step_categories` of the other runs
//! only (pinned by themselves, so a fleet with a few new runs opens a few files).
//! [`compact`] writes that file: the view's rows, materialised.
//!
//! Invariants: the view's rows are the rollup of the session's pinned
//! `step_categories`, whichever way each run is read; on a cluster, or where a run
//! predates `step_categories` (it is then a grouping of `kernels`), the rollup reads
//! `step_categories` whole and no compacted file is used.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};

use super::register::{register_listing, Where};
use super::session::Session;
use crate::dataset::compact::{self, Generations, COMPACT_TABLE};
use crate::dataset::schema::{StepCategoriesBuilder, TableBuilder, SCHEMA_FINGERPRINT};
use crate::error::{Error, Result};

/// The view's name.
pub const ROLLUP_TABLE: &str = COMPACT_TABLE;

/// Changes with the rollup's SQL or the tables under it: a compacted file written by
/// another version is not used (its runs are rolled up again).
const ROLLUP_VERSION: u32 = 1;

/// Runs outside the newest compacted file after which `trace ingest` compacts.
pub const COMPACT_AFTER: usize = 32;

/// The internal table of the runs read from their own files.
const STALE: &str = "__stale_step_categories";

/// The internal table over the compacted file.
const COMPACTED: &str = "__compact_shape_categories";

/// The rollup of `source` (a `step_categories`-shaped table), `run` last.
fn rollup_of(source: &str) -> String {
    format!(
        "SELECT g.phase, g.bsz, g.seq, g.device, g.in_steps, g.category, g.name_category, \
                g.category_source, g.launch, g.kernels, g.gpu_ns, g.module_ns, \
                CAST(coalesce(t.steps, 0) AS BIGINT) AS steps, g.run \
         FROM (SELECT run, phase, bsz, seq, device, step IS NOT NULL AS in_steps, category, \
                      name_category, category_source, launch, sum(kernels) AS kernels, \
                      sum(gpu_ns) AS gpu_ns, sum(module_ns) AS module_ns \
               FROM {source} \
               GROUP BY run, phase, bsz, seq, device, step IS NOT NULL, category, \
                        name_category, category_source, launch) g \
         LEFT JOIN (SELECT run, phase, bsz, seq, count(DISTINCT step) AS steps \
                    FROM {source} WHERE step IS NOT NULL GROUP BY run, phase, bsz, seq) t \
           ON g.in_steps AND (g.run IS NOT DISTINCT FROM t.run) \
              AND (g.phase IS NOT DISTINCT FROM t.phase) AND (g.bsz IS NOT DISTINCT FROM t.bsz) \
              AND (g.seq IS NOT DISTINCT FROM t.seq)"
    )
}

/// The footer tag of files this version writes and reads.
fn rollup_tag() -> String {
    format!("{ROLLUP_VERSION}/{SCHEMA_FINGERPRINT}")
}

fn query_error(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Query {
        context: context.into(),
        reason: e.to_string(),
    }
}

/// Registers `shape_categories` in `session`; returns the generations of the runs
/// whose rows it holds when it was built run by run (locally), else `None`.
pub(super) async fn register(session: &Session) -> Result<Option<Generations>> {
    let root = session.root.as_path();
    let run = session.run.as_deref();
    let legacy = !super::summaries::missing(root, run).is_empty();
    if session.place == Where::Cluster || legacy {
        return register_whole(session).await.map(|()| None);
    }
    let compacted = compact::latest(root).filter(|c| c.tag == rollup_tag());
    let mut keys: Vec<String> = super::summaries::runs_in(root, StepCategoriesBuilder::NAME)
        .into_iter()
        .filter(|k| run.is_none_or(|only| only == k))
        .collect();
    keys.sort();
    let mut pin = session.pin.lock().map_err(|_| poisoned())?.take();
    let Some(pin_ref) = pin.as_mut() else {
        return register_whole(session).await.map(|()| None);
    };
    let ids = pin_ref.generation_ids(root, &keys);
    let mut used = Generations::new();
    let (mut fresh, mut stale) = (Vec::new(), Vec::new());
    for (key, id) in keys.into_iter().zip(ids) {
        let covered = compacted
            .as_ref()
            .is_some_and(|c| id.is_some() && c.generations.get(&key) == id.as_ref());
        if let Some(id) = id {
            used.insert(key.clone(), id);
        }
        if covered {
            fresh.push(key);
        } else {
            stale.push(key);
        }
    }
    let stale_dir = if stale.is_empty() {
        Ok(None)
    } else {
        pin_ref.table_of(root, StepCategoriesBuilder::NAME, &stale, STALE)
    };
    *session.pin.lock().map_err(|_| poisoned())? = pin;
    let stale_dir = stale_dir?;
    let mut parts = Vec::new();
    if let (Some(compacted), false) = (&compacted, fresh.is_empty()) {
        register_compacted(session, &compacted.path)?;
        let excluded: Vec<String> = compacted
            .generations
            .keys()
            .filter(|k| fresh.binary_search(k).is_err())
            .map(|k| crate::vocab::sql_string(k))
            .collect();
        parts.push(match (run, excluded.is_empty()) {
            (Some(run), _) => format!(
                "SELECT * FROM {COMPACTED} WHERE run = {}",
                crate::vocab::sql_string(run)
            ),
            (None, true) => format!("SELECT * FROM {COMPACTED}"),
            (None, false) => format!(
                "SELECT * FROM {COMPACTED} WHERE run NOT IN ({})",
                excluded.join(", ")
            ),
        });
    }
    if let Some(dir) = stale_dir {
        let schema = StepCategoriesBuilder::schema();
        register_listing(&session.ctx, &dir, STALE, Some(schema), session.place).await?;
        parts.push(rollup_of(STALE));
    }
    if parts.is_empty() {
        return register_whole(session).await.map(|()| Some(used));
    }
    session
        .ctx
        .sql(&format!(
            "CREATE VIEW {ROLLUP_TABLE} AS {}",
            parts.join(" UNION ALL ")
        ))
        .await
        .map_err(|e| query_error("table shape_categories", e))?;
    Ok(Some(used))
}

/// `shape_categories` as the rollup of the session's whole `step_categories`.
async fn register_whole(session: &Session) -> Result<()> {
    Box::pin(session.register_tables(&[StepCategoriesBuilder::NAME.to_string()])).await?;
    session
        .ctx
        .sql(&format!(
            "CREATE VIEW {ROLLUP_TABLE} AS {}",
            rollup_of(StepCategoriesBuilder::NAME)
        ))
        .await
        .map_err(|e| query_error("table shape_categories", e))?;
    Ok(())
}

fn register_compacted(session: &Session, path: &Path) -> Result<()> {
    let context = "compacted shape_categories";
    let url =
        ListingTableUrl::parse(path.display().to_string()).map_err(|e| query_error(context, e))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()));
    let schema = compact::schema_of_file(path)?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config).map_err(|e| query_error(context, e))?;
    session
        .ctx
        .register_table(COMPACTED, Arc::new(table))
        .map_err(|e| query_error(context, e))?;
    Ok(())
}

fn poisoned() -> Error {
    query_error(
        "query session",
        "a previous query panicked while registering tables",
    )
}

/// What [`compact`] did.
pub struct Compaction {
    /// Runs in the new file, and how many of them were rolled up from their files.
    pub runs: usize,
    pub rolled_up: usize,
    pub bytes: u64,
    pub seconds: f64,
}

impl std::fmt::Display for Compaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "compacted the summaries of {} runs ({} rolled up from their files) into {:.1} KiB in {:.2} s",
            self.runs,
            self.rolled_up,
            self.bytes as f64 / 1024.0,
            self.seconds
        )
    }
}

/// Writes the dataset's next compacted `shape_categories`, holding every run with
/// `step_categories`; `None` when another process is writing one, or when nothing
/// changed since the last. With `at_least`, only when that many runs are not in the
/// newest file (what `trace ingest` asks after each commit).
pub async fn compact(root: &Path, at_least: Option<usize>) -> Result<Option<Compaction>> {
    let started = Instant::now();
    if let Some(threshold) = at_least {
        if not_covered(root) < threshold {
            return Ok(None);
        }
    }
    let Some(lock) = compact::lock(root)? else {
        return Ok(None);
    };
    let session = super::session::open(root, None).await?;
    let result = session
        .run(
            &format!("SELECT * FROM {ROLLUP_TABLE} ORDER BY run"),
            "compaction",
        )
        .await?;
    let Some(generations) = session.rollup_generations()? else {
        let missing = super::summaries::missing(root, None);
        return Err(Error::Usage(format!(
            "runs {} predate per-step summaries: re-ingest them, then compact",
            missing.join(", ")
        )));
    };
    let previous = compact::latest(root);
    let unchanged = previous
        .as_ref()
        .is_some_and(|p| p.tag == rollup_tag() && p.generations == generations);
    if unchanged || generations.is_empty() {
        return Ok(None);
    }
    let rolled_up = generations
        .iter()
        .filter(|(k, id)| previous.as_ref().and_then(|p| p.generations.get(*k)) != Some(*id))
        .count();
    let tag = rollup_tag();
    let contents = compact::Contents {
        schema: result.schema.clone(),
        batches: &result.batches,
        generations: &generations,
        tag: &tag,
    };
    let (_, bytes) = compact::write(root, &lock, &contents)?;
    Ok(Some(Compaction {
        runs: generations.len(),
        rolled_up,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Runs with `step_categories` whose current generation the newest compacted file
/// does not hold (all of them when there is none, or it is another version's).
pub fn not_covered(root: &Path) -> usize {
    let compacted = compact::latest(root).filter(|c| c.tag == rollup_tag());
    super::summaries::runs_in(root, StepCategoriesBuilder::NAME)
        .into_iter()
        .filter(|key| {
            compacted.as_ref().is_none_or(|c| {
                c.generations.get(key) != compact::generation_of(root, key).as_ref()
            })
        })
        .count()
}
