//! Where a run's files live under the dataset root: the names every dataset module
//! agrees on, in one leaf that imports nothing, so staging, commit, parts and the lock
//! never import each other for a path.
//!
//! ```text
//! <root>/<table>/run=<key>            symlink → ../.runs/<key>/current/<table>
//! <root>/.runs/<key>/current          symlink → gen-<n>        (the one switch)
//! <root>/.runs/<key>/gen-<n>/<table>/part-<part>.parquet
//! <root>/.runs/<key>/gen-<n>/<table>/run.parquet          run-level tables
//! <root>/.runs/<key>/gen-<n>/.parts/<part>.json           part records
//! <root>/.runs/<key>/staging-*        writers' private staging
//! <root>/.runs/<key>/run-id           the run id the key belongs to
//! <root>/.runs/<key>/lock/            the commit lock (mkdir, see [`super::lock`])
//! ```
//!
//! Invariant: every name a reader must not list starts with `.` (pandas, polars,
//! DuckDB and Spark skip those), so only `<table>/run=<key>` is visible.

/// Hidden directory of run generations under the dataset root.
pub const RUNS_DIR: &str = ".runs";

/// The link inside a run's directory naming its current generation.
pub const CURRENT: &str = "current";

/// Directory of part records inside a generation (hidden from table listings).
pub const PARTS_DIR: &str = ".parts";

/// File name of a run-level table (written by the merge, one per run).
pub const RUN_FILE: &str = "run.parquet";
