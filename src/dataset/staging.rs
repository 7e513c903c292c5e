//! Staged writes: a writer's parts of a run are written into a private staging
//! directory under `<root>/.runs/<key>/` and published by [`crate::dataset::commit`]
//! with one atomic pointer switch, so readers see the whole old run or the whole new
//! one, and the parts other writers own stay as they are.
//!
//! A writer claims its parts ([`Staging::claim_part`]) before writing them; the claim
//! remembers which writer last committed each part, so that a second writer of the
//! same part running at the same time fails at commit instead of overwriting.
//!
//! Invariants: a staging directory holds an exclusive lock on its `.owner` file for
//! as long as its process lives, so the next ingest into the dataset can tell a
//! killed ingest's leftovers (lock free) from a running one's (lock held) and removes
//! only the former. A `staging-…` directory is named only once that lock is held (it
//! is set up as `.init-staging-…` and renamed), so the sweep never meets one without
//! its owner; an `.init-…` leftover of a writer killed during set-up is removed once
//! a minute old. Staging is removed by renaming it to `.removing-…` first, so a
//! removal killed halfway (its `.owner` already deleted) leaves a name nobody owns,
//! which the next sweep removes at once. Readers never list staging: it sits under
//! the hidden `.runs/`.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::dataset::commit::{self, Merge, Owned};
use crate::dataset::lock::Owner;
use crate::dataset::parts::{self, PartRecord};
use crate::dataset::run_key::partition_key;
use crate::error::{Error, Result};

use crate::dataset::layout::{older_than, RUNS_DIR};

/// Names of writers' staging directories in a run's directory.
const STAGING_PREFIX: &str = "staging-";

/// A staging directory being set up (hidden until its owner lock is held).
const INIT_PREFIX: &str = ".init-";

/// A staging directory being removed: owned by nobody, removed by whoever sees it.
const REMOVING_PREFIX: &str = ".removing-";

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
    /// Claimed parts → the writer token each had when claimed.
    owned: Owned,
    /// Facts recorded for claimed parts.
    facts: BTreeMap<String, serde_json::Value>,
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
        let name = format!(
            "{STAGING_PREFIX}{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // The directory is set up under a hidden name, its `.owner` file created and
        // locked there, and only then renamed to `staging-…`: a sweep that finds a
        // `staging-…` directory always finds its owner file, locked while its writer
        // lives. A writer killed during set-up leaves only `.init-staging-…`, which the
        // sweep removes once OWNERLESS_GRACE old.
        let init = run_dir.join(format!("{INIT_PREFIX}{name}"));
        let dir = run_dir.join(&name);
        std::fs::create_dir(&init).map_err(|e| unwritable(root, e))?;
        let owner_path = init.join(".owner");
        let owner = File::create(&owner_path).map_err(|e| Error::io(&owner_path, e))?;
        // Where the filesystem has no flock (Lustre without `-o flock`) the staging
        // is never judged abandoned by others; it is still removed on drop.
        let _ = owner.lock();
        std::fs::rename(&init, &dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging {
            root: root.to_path_buf(),
            run_dir,
            dir,
            run_id: run_id.to_string(),
            key,
            stale_removed,
            committed: false,
            owned: Owned::new(),
            facts: BTreeMap::new(),
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

    /// Claims part `part` of the run for this writer: the commit replaces the part's
    /// files in every table and fails if another writer commits the part first.
    pub fn claim_part(&mut self, part: &str) -> Result<()> {
        if !self.owned.contains_key(part) {
            let writer = commit::current_writer(&self.run_dir, part)?;
            self.owned.insert(part.to_string(), writer);
        }
        Ok(())
    }

    /// Path of claimed part `part` in `table`, creating its directory.
    pub fn part_path(&self, table: &str, part: &str) -> Result<PathBuf> {
        if !self.owned.contains_key(part) {
            return Err(Error::Usage(format!(
                "internal: part {part:?} of table {table} written without being claimed"
            )));
        }
        let dir = self.dir.join(table);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir.join(parts::file_name(part)))
    }

    /// Records what claimed part `part` contributes to the run-level tables.
    pub fn set_facts(&mut self, part: &str, facts: serde_json::Value) {
        self.facts.insert(part.to_string(), facts);
    }

    /// Publishes the claimed parts, keeping every other part and table of the run
    /// (see [`crate::dataset::commit`]); run-level tables are carried as they are.
    pub fn commit(self) -> Result<()> {
        self.commit_merging(None)
    }

    /// Publishes the claimed parts; `merge` rewrites the run-level tables from the
    /// facts of every part of the new generation.
    pub fn commit_merging(mut self, merge: Option<Merge>) -> Result<()> {
        let writer = Owner::me().token;
        for part in self.owned.keys() {
            let record = PartRecord {
                writer: writer.clone(),
                facts: self
                    .facts
                    .get(part)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
            };
            parts::write_record(&self.dir, part, &record)?;
        }
        let target = commit::Target {
            root: &self.root,
            run_dir: &self.run_dir,
            key: &self.key,
            run_id: &self.run_id,
        };
        let result = commit::commit(&target, &self.dir, &self.owned, merge);
        // Once renamed into a generation the directory is no longer ours to remove.
        self.committed = result.is_ok() || !self.dir.exists();
        result
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the next ingest removes it otherwise.
            discard(&self.run_dir, &self.dir);
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
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(REMOVING_PREFIX) {
                // A removal killed halfway; nobody owns it.
                if std::fs::remove_dir_all(entry.path()).is_ok() {
                    removed += 1;
                }
                continue;
            }
            let staging = name.starts_with(STAGING_PREFIX)
                || name
                    .strip_prefix(INIT_PREFIX)
                    .is_some_and(|rest| rest.starts_with(STAGING_PREFIX));
            if !staging {
                continue;
            }
            let dir = entry.path();
            let dead = if name.starts_with(INIT_PREFIX) {
                older_than(&dir, OWNERLESS_GRACE)
            } else {
                is_abandoned(&dir)
            };
            if dead && discard(&run.path(), &dir) {
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

/// Removes staging directory `dir` of `run_dir`: renamed to `.removing-…` first (one
/// atomic step that disowns it), then deleted. True when it is gone.
fn discard(run_dir: &Path, dir: &Path) -> bool {
    let Some(name) = dir.file_name() else {
        return false;
    };
    let doomed = run_dir.join(format!("{REMOVING_PREFIX}{}", name.to_string_lossy()));
    if std::fs::rename(dir, &doomed).is_err() {
        // Another sweep took it first, or it cannot be moved: leave it to that one.
        return false;
    }
    std::fs::remove_dir_all(&doomed).is_ok()
}

/// True when no live process holds the staging directory's owner lock.
fn is_abandoned(dir: &Path) -> bool {
    match File::open(dir.join(".owner")) {
        Ok(owner) => match owner.try_lock() {
            Ok(()) => true,
            Err(std::fs::TryLockError::WouldBlock) => false,
            Err(std::fs::TryLockError::Error(_)) => false,
        },
        Err(_) => older_than(dir, OWNERLESS_GRACE),
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
