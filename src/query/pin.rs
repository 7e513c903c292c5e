//! A reader's pinned view of the dataset: each run's generation, resolved once when
//! a query session opens, so every query of the session reads one whole generation
//! per run however many commits land meanwhile.
//!
//! A run's table directory `<root>/<table>/run=<key>` is a link through the run's
//! `current` pointer (see [`crate::dataset::layout`]). A reader that lists files
//! through it and opens them later can list generation n and open generation n+1's
//! file of the same name (another size, another footer: "Corrupt footer"). The pin
//! is a private directory of links, `<pin>/<table>/run=<key>` → the generation
//! directory the run's link resolved to at open; generations are never rewritten in
//! place, and a commit removes a generation only when it is neither current nor
//! previous and a minute old (see [`crate::dataset::commit`]), so a session of up to
//! a minute (every report, diff and query) reads exactly what it pinned.
//!
//! Invariants: a run's `current` is resolved once per session, so all its tables
//! come from one generation; the pin holds only links (nothing is copied); it is removed when the
//! session ends; a run whose link does not resolve (a generation deleted by hand) is
//! left out and named, never an error for the other runs.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::dataset::layout::{current_generation, RUNS_DIR};
use crate::error::{Error, Result};

/// The private link directory of one session.
pub struct Pin {
    dir: tempfile::TempDir,
    /// Each run's generation directory, resolved once: every table of a run is
    /// read from the same generation.
    generations: HashMap<OsString, Option<PathBuf>>,
    /// Run directories that did not resolve, as `<table>/run=<key>`.
    pub unresolved: Vec<String>,
}

impl Pin {
    /// An empty pin in the system's temporary directory.
    pub fn new() -> Result<Pin> {
        let dir = tempfile::Builder::new()
            .prefix("trace-pin-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        Ok(Pin {
            dir,
            generations: HashMap::new(),
            unresolved: Vec::new(),
        })
    }

    /// Pins table `name` of `root` (only run `run` when given): returns the pinned
    /// table directory, or `None` when the table has no run.
    pub fn table(&mut self, root: &Path, name: &str, run: Option<&str>) -> Result<Option<PathBuf>> {
        let entries: Vec<OsString> = match run {
            Some(key) => vec![format!("run={key}").into()],
            None => match std::fs::read_dir(root.join(name)) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name())
                    .filter(|n| n.to_string_lossy().starts_with("run="))
                    .collect(),
                Err(_) => return Ok(None),
            },
        };
        self.link_runs(root, name, &entries, name)
    }

    /// Pins only runs `keys` of table `name`, as table directory `pinned_as` (a name
    /// of its own, beside the whole table's); `None` when none of them has the table.
    pub fn table_of(
        &mut self,
        root: &Path,
        name: &str,
        keys: &[String],
        pinned_as: &str,
    ) -> Result<Option<PathBuf>> {
        let entries: Vec<OsString> = keys.iter().map(|k| format!("run={k}").into()).collect();
        self.link_runs(root, name, &entries, pinned_as)
    }

    /// The identities of runs `keys`' pinned generations (see
    /// [`crate::dataset::compact::generation_of`]), resolving those not yet pinned
    /// now, on every core (a fleet has 10,000 runs).
    pub fn generation_ids(&mut self, root: &Path, keys: &[String]) -> Vec<Option<String>> {
        use rayon::prelude::*;
        let entries: Vec<OsString> = keys.iter().map(|k| format!("run={k}").into()).collect();
        let resolved: Vec<(usize, Option<PathBuf>)> = (0..keys.len())
            .into_par_iter()
            .filter(|&i| !self.generations.contains_key(&entries[i]))
            .map(|i| (i, current_generation(&root.join(RUNS_DIR).join(&keys[i]))))
            .collect();
        for (i, generation) in resolved {
            self.generations.insert(entries[i].clone(), generation);
        }
        entries
            .par_iter()
            .map(|entry| {
                let generation = self.generations.get(entry)?.as_ref()?;
                crate::dataset::compact::generation_at(generation)
            })
            .collect()
    }

    fn link_runs(
        &mut self,
        root: &Path,
        name: &str,
        entries: &[OsString],
        pinned_as: &str,
    ) -> Result<Option<PathBuf>> {
        let source = root.join(name);
        let pinned = self.dir.path().join(pinned_as);
        let mut any = false;
        for entry in entries {
            let from = source.join(entry);
            let generation = self.generation(root, entry).map(|g| g.join(name));
            let Some(generation) = generation.or_else(|| std::fs::canonicalize(&from).ok()) else {
                if std::fs::symlink_metadata(&from).is_ok() {
                    self.unresolved
                        .push(format!("{name}/{}", entry.to_string_lossy()));
                }
                continue;
            };
            if !generation.is_dir() {
                continue;
            }
            if !any {
                std::fs::create_dir_all(&pinned).map_err(|e| Error::io(&pinned, e))?;
                any = true;
            }
            let link = pinned.join(entry);
            link_dir(&generation, &link)?;
        }
        Ok(any.then_some(pinned))
    }
}

impl Pin {
    /// The generation directory run `run=<key>` reads now (`.runs/<key>/current`
    /// resolved), the same for every table of the session; `None` for a run
    /// written without generations.
    fn generation(&mut self, root: &Path, entry: &OsStr) -> Option<PathBuf> {
        let key = entry.to_string_lossy().strip_prefix("run=")?.to_string();
        self.generations
            .entry(entry.to_os_string())
            .or_insert_with(|| current_generation(&root.join(RUNS_DIR).join(&key)))
            .clone()
    }
}

#[cfg(unix)]
fn link_dir(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(|e| Error::io(link, e))
}

#[cfg(not(unix))]
fn link_dir(target: &Path, link: &Path) -> Result<()> {
    std::os::windows::fs::symlink_dir(target, link).map_err(|e| Error::io(link, e))
}
