//! Staged writes: a run's tables are written into a private staging directory under
//! `<root>/.runs/<key>/` and published by [`crate::dataset::commit`] with one atomic
//! pointer switch, so readers see the whole old run or the whole new one.
//!
//! Invariants: a staging directory holds an exclusive lock on its `.owner` file for
//! as long as its process lives, so the next ingest into the dataset can tell a
//! killed ingest's leftovers (lock free) from a running one's (lock held) and removes
//! only the former. Readers never list staging: it sits under the hidden `.runs/`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::dataset::commit;
use crate::dataset::run_key::partition_key;
use crate::error::{Error, Result};

/// Hidden directory of run generations under the dataset root.
pub const RUNS_DIR: &str = ".runs";

/// Staging without an `.owner` file older than this is a leftover (the window
/// between creating the directory and its owner file is microseconds).
const OWNERLESS_GRACE: Duration = Duration::from_secs(60);

/// A run being written. Dropping it without [`Staging::commit`] removes the staging
/// directory.
pub struct Staging {
    root: PathBuf,
    run_dir: PathBuf,
    dir: PathBuf,
    run_id: String,
    key: String,
    stale_removed: usize,
    committed: bool,
    /// Held (locked) for the life of the staging directory.
    _owner: File,
}

impl Staging {
    /// Starts staging run `run_id` (stored as given) under `root`, after removing
    /// staging left by killed ingests; fails with an actionable error when `root`
    /// cannot be created or written, or the id is empty or too long.
    pub fn begin(root: &Path, run_id: &str) -> Result<Staging> {
        let key = partition_key(run_id)?;
        std::fs::create_dir_all(root).map_err(|e| unwritable(root, e))?;
        let stale_removed = remove_stale_staging(root);
        let run_dir = root.join(RUNS_DIR).join(&key);
        std::fs::create_dir_all(&run_dir).map_err(|e| unwritable(root, e))?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = run_dir.join(format!(
            "staging-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| unwritable(root, e))?;
        let owner_path = dir.join(".owner");
        let owner = File::create(&owner_path).map_err(|e| Error::io(&owner_path, e))?;
        owner.lock().map_err(|e| Error::io(&owner_path, e))?;
        Ok(Staging {
            root: root.to_path_buf(),
            run_dir,
            dir,
            run_id: run_id.to_string(),
            key,
            stale_removed,
            committed: false,
            _owner: owner,
        })
    }

    /// The run's partition key: its directories are `<table>/run=<key>`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How many staging directories of killed ingests [`Staging::begin`] removed.
    pub fn stale_removed(&self) -> usize {
        self.stale_removed
    }

    /// Path for part `part` of `table`, creating its directory.
    pub fn part_path(&self, table: &str, part: usize) -> Result<PathBuf> {
        let dir = self.dir.join(table);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir.join(format!("part-{part}.parquet")))
    }

    /// Publishes the staged tables, replacing those tables of an earlier ingest of
    /// the run and keeping its other tables (see [`crate::dataset::commit`]).
    pub fn commit(mut self) -> Result<()> {
        let target = commit::Target {
            root: &self.root,
            run_dir: &self.run_dir,
            key: &self.key,
            run_id: &self.run_id,
        };
        let result = commit::commit(&target, &self.dir);
        // Once renamed into a generation the directory is no longer ours to remove.
        self.committed = result.is_ok() || !self.dir.exists();
        result
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the next ingest removes it otherwise.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes staging directories whose owner is gone (killed ingests); returns how
/// many. Best effort: a directory that cannot be removed is retried next time.
fn remove_stale_staging(root: &Path) -> usize {
    let mut removed = 0;
    let Ok(runs) = std::fs::read_dir(root.join(RUNS_DIR)) else {
        return 0;
    };
    for run in runs.flatten() {
        let Ok(entries) = std::fs::read_dir(run.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with("staging-") {
                continue;
            }
            let dir = entry.path();
            if is_abandoned(&dir) && std::fs::remove_dir_all(&dir).is_ok() {
                removed += 1;
            }
        }
    }
    // Staging of trace versions before run generations: `<root>/.staging-<id>-<pid>`.
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(pid) = name
                .strip_prefix(".staging-")
                .and_then(|rest| rest.rsplit('-').next())
            else {
                continue;
            };
            let alive = Path::new("/proc").join(pid).exists();
            if !alive && std::fs::remove_dir_all(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// True when no live process holds the staging directory's owner lock.
fn is_abandoned(dir: &Path) -> bool {
    match File::open(dir.join(".owner")) {
        Ok(owner) => match owner.try_lock() {
            Ok(()) => true,
            Err(std::fs::TryLockError::WouldBlock) => false,
            Err(std::fs::TryLockError::Error(_)) => false,
        },
        Err(_) => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > OWNERLESS_GRACE),
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
