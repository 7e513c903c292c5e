//! The commit protocol: run generations behind one atomic pointer.
//!
//! ```text
//! <root>/<table>/run=<key>            symlink → ../.runs/<key>/current/<table>
//! <root>/.runs/<key>/current          symlink → gen-<n>        (the one switch)
//! <root>/.runs/<key>/gen-<n>/<table>/part-*.parquet
//! <root>/.runs/<key>/run-id           the run id the key belongs to
//! <root>/.runs/<key>/.lock            writers of this run serialise on it (flock)
//! ```
//!
//! Readers (trace, pandas/pyarrow, polars, DuckDB, Spark) list the plain Hive paths
//! `<table>/run=<key>/part-*.parquet`, following the links. A commit, holding the
//! run's lock: checks `run-id`; hard-links into the staged generation the tables of
//! the current generation it does not replace; makes sure every table link exists
//! (and resolves to a directory in both generations); renames the staging directory
//! to `gen-<n+1>`; then renames a fresh `current` link over the old one. That rename
//! is the commit point: before it every reader sees the old generation, after it the
//! new one, and a failure or kill anywhere leaves one of the two whole. The previous
//! generation is kept (a reader that listed it can still open its files); older ones
//! and orphans of failed commits are removed by the next commit.
//!
//! Every filesystem step goes through [`step`], which tests use to inject a failure
//! at each one in turn.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// Where a run is committed.
pub struct Target<'a> {
    pub root: &'a Path,
    pub run_dir: &'a Path,
    pub key: &'a str,
    pub run_id: &'a str,
}

const CURRENT: &str = "current";

/// Publishes `staged` (one directory per table) as the run's new generation.
pub fn commit(target: &Target, staged: &Path) -> Result<()> {
    let lock_path = target.run_dir.join(".lock");
    step("open lock", &lock_path)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    step("lock", &lock_path)?;
    lock.lock().map_err(|e| Error::io(&lock_path, e))?;
    check_run_id(target)?;
    let old = match current_generation(target.run_dir)? {
        Some(old) => old,
        None => first_generation(target)?,
    };
    let old_dir = target.run_dir.join(&old);
    let staged_tables = table_dirs(staged)?;
    for table in table_dirs(&old_dir)? {
        if !staged_tables.contains(&table) {
            carry_over(&old_dir.join(&table), &staged.join(&table))?;
        }
    }
    for table in &staged_tables {
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
    switch_current(target.run_dir, &next)?;
    prune(target.run_dir, &[&next, &old]);
    Ok(())
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

/// Hard-links every part of a table the commit does not replace.
fn carry_over(from: &Path, to: &Path) -> Result<()> {
    step("create carried table", to)?;
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let entries = std::fs::read_dir(from).map_err(|e| Error::io(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let dest = to.join(entry.file_name());
        step("hard-link carried part", &dest)?;
        std::fs::hard_link(entry.path(), &dest).map_err(|e| Error::io(&dest, e))?;
    }
    Ok(())
}

/// Makes `<root>/<table>/run=<key>` the link through `current`.
fn ensure_link(target: &Target, table: &str) -> Result<()> {
    let table_dir = target.root.join(table);
    let link = table_dir.join(format!("run={}", target.key));
    let points_to = Path::new("..")
        .join(crate::dataset::staging::RUNS_DIR)
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

/// Removes generations other than `keep` (best effort; retried by the next commit).
fn prune(run_dir: &Path, keep: &[&str]) {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if generation_number(&name).is_some() && !keep.contains(&name.as_str()) {
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
