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
//! DuckDB and Spark skip those), so only `<table>/run=<key>` is visible; and only
//! `trace ingest` writes under the root ([`refuse_output_inside`] guards the rest).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Hidden directory of run generations under the dataset root.
pub const RUNS_DIR: &str = ".runs";

/// The link inside a run's directory naming its current generation.
pub const CURRENT: &str = "current";

/// Directory of part records inside a generation (hidden from table listings).
pub const PARTS_DIR: &str = ".parts";

/// File name of a run-level table (written by the merge, one per run).
pub const RUN_FILE: &str = "run.parquet";

/// `run_dir`'s `current` as an absolute path: the link's target joined to the run
/// directory when it is a sibling name (as commits write it; one `readlink`, which
/// matters over 10,000 runs), else the link resolved whole; `None` when it does not
/// resolve to a directory (a run without generations, or removed meanwhile).
pub fn current_generation(run_dir: &Path) -> Option<PathBuf> {
    let current = run_dir.join(CURRENT);
    match std::fs::read_link(&current) {
        Ok(target) if target.components().count() == 1 && target.is_relative() => {
            let generation = std::path::absolute(run_dir.join(target)).ok()?;
            generation.is_dir().then_some(generation)
        }
        _ => std::fs::canonicalize(current).ok(),
    }
}

/// Whether `path` was last modified more than `age` ago (by this host's clock).
pub fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// True when `location` (a path or `file://` URL) lies under `root`, judged on
/// canonical paths (links followed) of the longest existing ancestor.
pub fn is_inside(root: &Path, location: &str) -> bool {
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

/// Refuses an output file (`--out`) of a reading command that would land inside the
/// dataset at `root`: it could replace a live part file and break every later query.
pub fn refuse_output_inside(root: &Path, out: &Path, flag: &str) -> Result<()> {
    if is_inside(root, &out.to_string_lossy()) {
        return Err(Error::Usage(format!(
            "{flag} {} is inside the dataset {}; only `trace ingest` writes there — write the file elsewhere",
            out.display(),
            root.display()
        )));
    }
    Ok(())
}
