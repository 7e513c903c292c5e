//! Staged writes: a run's tables are written under a hidden staging directory in
//! the output root and moved into `<root>/<table>/run=<id>/` only when every table
//! is complete, so readers never see half a run and a failed ingest leaves the
//! previous data untouched.
//!
//! Readers (DataFusion, pyarrow, polars) skip paths starting with `.`, and the
//! staging directory sits beside the tables, not inside one.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A run being written. Dropping it without [`Staging::commit`] removes the staging
/// directory.
pub struct Staging {
    root: PathBuf,
    dir: PathBuf,
    run_id: String,
    committed: bool,
}

impl Staging {
    /// Creates `<root>/.staging-<run>-<pid>/`; fails with an actionable error when
    /// `root` cannot be created or written.
    pub fn begin(root: &Path, run_id: &str) -> Result<Staging> {
        std::fs::create_dir_all(root).map_err(|e| unwritable(root, e))?;
        let dir = root.join(format!(".staging-{run_id}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir(&dir).map_err(|e| unwritable(root, e))?;
        Ok(Staging {
            root: root.to_path_buf(),
            dir,
            run_id: run_id.to_string(),
            committed: false,
        })
    }

    /// Path for part `part` of `table`, creating its directory.
    pub fn part_path(&self, table: &str, part: usize) -> Result<PathBuf> {
        let dir = self.dir.join(table).join(format!("run={}", self.run_id));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir.join(format!("part-{part}.parquet")))
    }

    /// Moves every staged table into place, replacing an earlier ingest of the run.
    pub fn commit(mut self) -> Result<()> {
        let tables = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut names = Vec::new();
        for entry in tables {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            names.push(entry.file_name());
        }
        names.sort();
        let partition = format!("run={}", self.run_id);
        for name in names {
            let staged = self.dir.join(&name).join(&partition);
            let table_dir = self.root.join(&name);
            std::fs::create_dir_all(&table_dir).map_err(|e| Error::io(&table_dir, e))?;
            let target = table_dir.join(&partition);
            let old = self.dir.join(format!("old-{}", name.to_string_lossy()));
            if target.exists() {
                std::fs::rename(&target, &old).map_err(|e| Error::io(&target, e))?;
            }
            std::fs::rename(&staged, &target).map_err(|e| Error::io(&target, e))?;
        }
        self.committed = true;
        std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the directory is hidden from readers either way.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn unwritable(root: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: root.to_path_buf(),
        cause: std::io::Error::new(
            e.kind(),
            format!(
                "cannot write the output directory ({e}); pass --out with a writable directory"
            ),
        ),
    }
}

/// Turns a file stem into a run id usable as a Hive partition value.
pub fn sanitize_run_id(raw: &str) -> String {
    let id: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = id.trim_start_matches('.');
    if id.is_empty() {
        "run".to_string()
    } else {
        id.to_string()
    }
}
