//! Removing one run from the dataset (`trace remove --run R`): the one command for a
//! run that is not wanted, or damaged beyond what a re-ingest mends.
//!
//! Under the run's commit lock, so no writer publishes into it meanwhile: every
//! `<table>/run=<key>` link goes first (new readers no longer list the run), then
//! the run's `.runs/<key>` directory is renamed aside (one atomic step) and deleted.
//! A reader that pinned the run a moment before may fail; nothing else is touched.
//! A `run=<key>` that is a plain directory (a dataset written before generations) is
//! removed the same way.

use std::path::Path;

use super::layout::RUNS_DIR;
use super::lock::CommitLock;
use super::run_key::partition_key;
use crate::error::{Error, Result};

/// What a removal took away.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The partition key of the run.
    pub key: String,
    /// Tables whose `run=<key>` entry was removed.
    pub tables: Vec<String>,
}

/// Removes run `run` (its id as given, or its partition key) from the dataset at
/// `root`.
pub fn remove_run(root: &Path, run: &str) -> Result<Removed> {
    let mut candidates = vec![run.to_string()];
    if let Ok(key) = partition_key(run) {
        candidates.insert(0, key);
    }
    let exists =
        |key: &str| root.join(RUNS_DIR).join(key).exists() || !tables_with(root, key).is_empty();
    let Some(key) = candidates.into_iter().find(|k| exists(k)) else {
        return Err(Error::Usage(format!(
            "no run {run:?} in {}; `trace query runs` lists them",
            root.display()
        )));
    };
    let run_dir = root.join(RUNS_DIR).join(&key);
    let _lock = if run_dir.is_dir() {
        Some(CommitLock::acquire(&run_dir.join("lock"))?)
    } else {
        None
    };
    let tables = tables_with(root, &key);
    for table in &tables {
        let entry = root.join(table).join(format!("run={key}"));
        let meta = std::fs::symlink_metadata(&entry).map_err(|e| Error::io(&entry, e))?;
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(&entry)
        } else {
            std::fs::remove_file(&entry)
        };
        removed.map_err(|e| Error::io(&entry, e))?;
    }
    if run_dir.exists() {
        let aside = root
            .join(RUNS_DIR)
            .join(format!(".removed-{key}-{}", std::process::id()));
        std::fs::rename(&run_dir, &aside).map_err(|e| Error::io(&run_dir, e))?;
        std::fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
    }
    Ok(Removed { key, tables })
}

/// The tables that have a `run=<key>` entry (a link, even a dangling one).
fn tables_with(root: &Path, key: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut tables: Vec<String> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| std::fs::symlink_metadata(e.path().join(format!("run={key}"))).is_ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    tables.sort();
    tables
}
