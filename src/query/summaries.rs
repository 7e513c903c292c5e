//! `step_categories` for runs ingested before it existed (dataset schema 1): when a
//! run has `kernels` but no `step_categories`, the session's `step_categories` becomes
//! the grouping of `kernels` it summarises — the same rows, computed at query time —
//! and a note names the runs to re-ingest for fast answers.
//!
//! Invariant: a shipped query never silently leaves a run out because its summary is
//! missing.

use std::collections::BTreeSet;
use std::path::Path;

use datafusion::prelude::SessionContext;

use crate::dataset::schema::{KernelsBuilder, StepCategoriesBuilder, TableBuilder};
use crate::error::{Error, Result};

/// `step_categories` as a grouping of `kernels` (the columns in the table's order).
const FROM_KERNELS: &str = "CREATE VIEW step_categories AS \
    SELECT step, phase, bsz, seq, iter, device, category, name_category, category_source, launch, \
           count(*) AS kernels, sum(dur_ns) AS gpu_ns, \
           sum(CASE WHEN module IS NOT NULL THEN dur_ns ELSE 0 END) AS module_ns, run \
    FROM kernels \
    GROUP BY run, step, phase, bsz, seq, iter, device, category, name_category, category_source, launch";

/// The `run=` partitions under `<root>/<table>`, sorted.
pub(super) fn runs_in(root: &Path, table: &str) -> BTreeSet<String> {
    std::fs::read_dir(root.join(table))
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
        .unwrap_or_default()
}

/// The runs (of `run`, if given) with kernels but no `step_categories`.
pub(super) fn missing(root: &Path, run: Option<&str>) -> Vec<String> {
    let summarised = runs_in(root, StepCategoriesBuilder::NAME);
    runs_in(root, KernelsBuilder::NAME)
        .into_iter()
        .filter(|r| run.is_none_or(|only| only == r) && !summarised.contains(r))
        .collect()
}

/// Replaces the session's `step_categories` with the grouping of `kernels` (which
/// must be registered) for `missing`, the runs without it (see [`missing`]).
pub(super) async fn cover_missing(ctx: &SessionContext, missing: &[String]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let error = |e: &dyn std::fmt::Display| Error::Query {
        context: "step_categories from kernels".into(),
        reason: e.to_string(),
    };
    ctx.deregister_table(StepCategoriesBuilder::NAME)
        .map_err(|e| error(&e))?;
    ctx.sql(FROM_KERNELS).await.map_err(|e| error(&e))?;
    crate::say!(
        "note: {} run(s) predate per-step summaries ({}); answers read their kernels instead (slower): re-ingest them for fast queries",
        missing.len(),
        missing.join(", ")
    );
    Ok(())
}
