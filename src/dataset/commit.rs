//! The commit protocol: run generations behind one atomic pointer, written by
//! several writers (processes, possibly on different machines sharing the dataset
//! over NFS or Lustre), each owning some parts of the run ([`crate::dataset::parts`]).
//!
//! The files and links are those of [`crate::dataset::layout`].
//!
//! Readers (trace, pandas/pyarrow, polars, DuckDB, Spark) list the plain Hive paths
//! `<table>/run=<key>/*.parquet`, following the links. A commit, holding the run's
//! lock: checks `run-id`; checks that no other writer committed one of its parts since
//! it began (else it fails and publishes nothing); hard-links (or copies, where the
//! filesystem has no hard links) into its staged generation every file of the current
//! generation it does not replace; rewrites the run-level tables from all part records
//! (an ingest's merge); makes sure every table link exists; renames the staging
//! directory to `gen-<n+1>`; then renames a fresh `current` link over the old one.
//! That rename is the commit point: before it every reader sees the old generation,
//! after it the new one, and a failure or kill anywhere leaves one of the two whole.
//!
//! What a commit replaces, in the tables it writes: the files of the parts it owns,
//! and files of parts without a record (a run written before parts existed); with a
//! merge, the run-level files of every table. Everything else is carried over.
//! Generations other than the current and the previous one are removed once a
//! minute old (a reader that listed one can still open its files meanwhile).
//!
//! A `current` that names a missing generation (removed by hand) is a run whose data
//! is gone: the next commit starts from an empty generation instead of failing.
//!
//! Every filesystem step goes through [`step`], which tests use to inject a failure
//! at each one in turn.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::dataset::layout::{CURRENT, PARTS_DIR, RUNS_DIR, RUN_FILE};
use crate::dataset::lock::CommitLock;
use crate::dataset::parts::{self, PartRecord};
use crate::error::{Error, Result};

/// Where a run is committed.
pub struct Target<'a> {
    pub root: &'a Path,
    pub run_dir: &'a Path,
    pub key: &'a str,
    pub run_id: &'a str,
}

/// The parts a commit owns: part → the writer token the part had when the writer
/// began (`None`: no record then).
pub type Owned = BTreeMap<String, Option<String>>;

/// What an ingest's merge sees: the records of every part of the new generation.
pub struct RunParts<'a> {
    pub run_id: &'a str,
    /// Facts of each part that has some, by part name.
    pub facts: BTreeMap<String, serde_json::Value>,
    staged: &'a Path,
}

impl RunParts<'_> {
    /// Path of run-level table `table` in the new generation (directory created).
    pub fn run_table_path(&self, table: &str) -> Result<PathBuf> {
        let dir = self.staged.join(table);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir.join(RUN_FILE))
    }
}

/// Rewrites the run-level tables from all parts' facts.
pub type Merge<'a> = &'a (dyn Fn(&RunParts) -> Result<()> + Sync);

/// Generations younger than this are not pruned (readers may still list them).
const PRUNE_AFTER: Duration = Duration::from_secs(60);

/// Publishes `staged` (one directory per table, records of the `owned` parts under
/// `.parts/`) as the run's new generation.
pub fn commit(target: &Target, staged: &Path, owned: &Owned, merge: Option<Merge>) -> Result<()> {
    let lock_path = target.run_dir.join("lock");
    step("lock", &lock_path)?;
    let lock = CommitLock::acquire(&lock_path)?;
    check_run_id(target)?;
    let old = match current_generation(target.run_dir)? {
        Some(old) => old,
        None => first_generation(target)?,
    };
    let old_dir = target.run_dir.join(&old);
    if !old_dir.exists() {
        // `current` names a generation removed by hand: its data is gone. Commit on
        // an empty one rather than refuse every ingest of the run for ever.
        step("recreate a missing current generation", &old_dir)?;
        std::fs::create_dir_all(&old_dir).map_err(|e| Error::io(&old_dir, e))?;
    }
    step("read part records", &old_dir)?;
    let old_records = parts::read_all(&old_dir)?;
    for (part, began_with) in owned {
        let now = old_records.get(part).map(|r| r.writer.clone());
        if &now != began_with {
            return Err(Error::Usage(format!(
                "part {part:?} of run {:?} was committed by another writer while this one ran;                  that writer's part is kept and this one published nothing",
                target.run_id
            )));
        }
    }
    let staged_tables = table_dirs(staged)?;
    let carried_records: BTreeMap<&String, &PartRecord> = old_records
        .iter()
        .filter(|(part, _)| !owned.contains_key(*part))
        .collect();
    for (part, record) in &carried_records {
        step("carry part record", &staged.join(PARTS_DIR))?;
        parts::write_record(staged, part, record)?;
    }
    if let Some(merge) = merge {
        let facts = parts::read_all(staged)?
            .into_iter()
            .filter(|(_, r)| !r.facts.is_null())
            .map(|(part, r)| (part, r.facts))
            .collect();
        step("merge run tables", staged)?;
        merge(&RunParts {
            run_id: target.run_id,
            facts,
            staged,
        })?;
    }
    let known: BTreeSet<&str> = old_records.keys().map(String::as_str).collect();
    let carries = |table: &str, file: &str| match parts::part_of_file(file) {
        _ if file == RUN_FILE => merge.is_none(),
        Some(part) if owned.contains_key(part) => !staged_tables.iter().any(|t| t == table),
        Some(part) if known.contains(part) => true,
        _ => !staged_tables.iter().any(|t| t == table),
    };
    for table in table_dirs(&old_dir)? {
        carry_over(&old_dir.join(&table), &staged.join(&table), |f| {
            carries(&table, f)
        })?;
    }
    for table in &table_dirs(staged)? {
        let in_old = old_dir.join(table);
        if !in_old.exists() {
            step("create empty table in the old generation", &in_old)?;
            std::fs::create_dir_all(&in_old).map_err(|e| Error::io(&in_old, e))?;
        }
        ensure_link(target, table)?;
    }
    let next = format!("gen-{}", generation_number(&old).map_or(0, |n| n + 1));
    let next_dir = target.run_dir.join(&next);
    if next_dir.exists() {
        // An orphan of an earlier failed commit: never published, safe to replace.
        step("remove orphan generation", &next_dir)?;
        std::fs::remove_dir_all(&next_dir).map_err(|e| Error::io(&next_dir, e))?;
    }
    step("rename staging to generation", &next_dir)?;
    std::fs::rename(staged, &next_dir).map_err(|e| Error::io(&next_dir, e))?;
    if !lock.still_held() {
        return Err(lock.lost());
    }
    switch_current(target.run_dir, &next)?;
    prune(target.run_dir, &[&next, &old]);
    Ok(())
}

/// The writer token of `part` in the run's current generation (read without the
/// lock: a generation pruned while it is read is looked up again).
pub fn current_writer(run_dir: &Path, part: &str) -> Result<Option<String>> {
    for _ in 0..8 {
        let Some(generation) = current_generation(run_dir)? else {
            return Ok(None);
        };
        let dir = run_dir.join(&generation);
        let record = parts::read_record(&dir, part)?;
        if record.is_some() || dir.exists() {
            return Ok(record.map(|r| r.writer));
        }
        if current_generation(run_dir)?.as_deref() == Some(generation.as_str()) {
            // Still current and gone: removed by hand, not pruned. No writer holds
            // the part; the commit starts the run again from nothing.
            return Ok(None);
        }
    }
    Err(Error::Usage(format!(
        "{}: the run changed too fast to read part {part:?}; retry",
        run_dir.display()
    )))
}

/// The generation `current` points at, if the run has one.
fn current_generation(run_dir: &Path) -> Result<Option<String>> {
    let current = run_dir.join(CURRENT);
    step("read current", &current)?;
    match std::fs::read_link(&current) {
        Ok(target) => Ok(Some(target.to_string_lossy().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&current, e)),
    }
}

/// Creates `gen-0` for a run without generations: empty, or holding the run's
/// tables from a dataset written before generations existed (moved in, then linked).
fn first_generation(target: &Target) -> Result<String> {
    let gen = "gen-0".to_string();
    let dir = target.run_dir.join(&gen);
    step("create first generation", &dir)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    switch_current(target.run_dir, &gen)?;
    let partition = format!("run={}", target.key);
    for table in table_dirs(target.root)? {
        let legacy = target.root.join(&table).join(&partition);
        let is_dir = std::fs::symlink_metadata(&legacy).is_ok_and(|m| m.is_dir());
        if is_dir {
            step("adopt pre-generation table", &legacy)?;
            std::fs::rename(&legacy, dir.join(&table)).map_err(|e| Error::io(&legacy, e))?;
            ensure_link(target, &table)?;
        }
    }
    Ok(gen)
}

/// Refuses a second run id whose key collides with this run's.
fn check_run_id(target: &Target) -> Result<()> {
    let path = target.run_dir.join("run-id");
    step("read run-id", &path)?;
    match std::fs::read_to_string(&path) {
        Ok(owner) if owner == target.run_id => Ok(()),
        Ok(owner) => Err(Error::Usage(format!(
            "run ids {:?} and {owner:?} map to the same directory run={} in {}; pick another --run-id",
            target.run_id,
            target.key,
            target.root.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let tmp = target.run_dir.join(format!(".run-id.tmp-{}", std::process::id()));
            step("write run-id", &tmp)?;
            std::fs::write(&tmp, target.run_id).map_err(|e| Error::io(&tmp, e))?;
            step("rename run-id", &path)?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
        }
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Hard-links (or copies) every file of a table that `keep` accepts.
fn carry_over(from: &Path, to: &Path, keep: impl Fn(&str) -> bool) -> Result<()> {
    step("create carried table", to)?;
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| Error::io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !keep(&name) {
            continue;
        }
        let dest = to.join(&name);
        step("hard-link carried part", &dest)?;
        if std::fs::hard_link(entry.path(), &dest).is_err() {
            // A filesystem without hard links: a copy is as good, only bigger.
            std::fs::copy(entry.path(), &dest).map_err(|e| Error::io(&dest, e))?;
        }
    }
    Ok(())
}

/// Makes `<root>/<table>/run=<key>` the link through `current`.
fn ensure_link(target: &Target, table: &str) -> Result<()> {
    let table_dir = target.root.join(table);
    let link = table_dir.join(format!("run={}", target.key));
    let points_to = Path::new("..")
        .join(RUNS_DIR)
        .join(target.key)
        .join(CURRENT)
        .join(table);
    step("read table link", &link)?;
    if std::fs::read_link(&link).is_ok_and(|t| t == points_to) {
        return Ok(());
    }
    step("create table directory", &table_dir)?;
    std::fs::create_dir_all(&table_dir).map_err(|e| Error::io(&table_dir, e))?;
    let tmp = table_dir.join(format!(".run={}.tmp-{}", target.key, std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    step("create table link", &tmp)?;
    std::os::unix::fs::symlink(&points_to, &tmp).map_err(|e| Error::io(&tmp, e))?;
    step("rename table link", &link)?;
    std::fs::rename(&tmp, &link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(&link, e)
    })
}

/// The commit point: `current` → `generation`, by renaming a new link over it.
fn switch_current(run_dir: &Path, generation: &str) -> Result<()> {
    let tmp = run_dir.join(format!(".current.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    step("create current link", &tmp)?;
    std::os::unix::fs::symlink(generation, &tmp).map_err(|e| Error::io(&tmp, e))?;
    let current = run_dir.join(CURRENT);
    step("switch current", &current)?;
    std::fs::rename(&tmp, &current).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(&current, e)
    })?;
    // Durability of the switch itself (the rename is already atomic without it).
    if let Ok(dir) = File::open(run_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Removes generations other than `keep` that are older than [`PRUNE_AFTER`] (best
/// effort; retried by the next commit).
fn prune(run_dir: &Path, keep: &[&str]) {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let old_enough = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= PRUNE_AFTER);
        if generation_number(&name).is_some() && !keep.contains(&name.as_str()) && old_enough {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn generation_number(name: &str) -> Option<u64> {
    name.strip_prefix("gen-")?.parse().ok()
}

/// Names of the visible subdirectories of `dir` (tables), sorted.
fn table_dirs(dir: &Path) -> Result<Vec<String>> {
    step("list tables", dir)?;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with('.') && entry.path().is_dir() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Every filesystem step of a commit passes here first (a no-op outside tests).
#[cfg(not(test))]
#[inline(always)]
fn step(_what: &str, _path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
fn step(what: &str, path: &Path) -> Result<()> {
    fault::step(what, path)
}

/// Test seam: fail the n-th filesystem step of the commits on this thread.
#[cfg(test)]
pub(crate) mod fault {
    use std::cell::Cell;
    use std::path::Path;

    use crate::error::{Error, Result};

    thread_local! {
        static FAIL_AT: Cell<Option<usize>> = const { Cell::new(None) };
        static TAKEN: Cell<usize> = const { Cell::new(0) };
    }

    /// Arms the seam: the `n`-th step from now fails (`None` disarms); resets the count.
    pub fn fail_at(n: Option<usize>) {
        FAIL_AT.with(|f| f.set(n));
        TAKEN.with(|t| t.set(0));
    }

    /// Steps taken since [`fail_at`].
    pub fn taken() -> usize {
        TAKEN.with(Cell::get)
    }

    pub(super) fn step(what: &str, path: &Path) -> Result<()> {
        let n = TAKEN.with(|t| {
            t.set(t.get() + 1);
            t.get()
        });
        if FAIL_AT.with(Cell::get) == Some(n) {
            return Err(Error::io(
                path,
                std::io::Error::other(format!("injected failure at step {n} ({what})")),
            ));
        }
        Ok(())
    }
}
