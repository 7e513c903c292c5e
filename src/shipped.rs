//! Shipped files: conf/, model_conf/, queries/ and the demo traces, compiled into the
//! binary (by `build.rs`) so that `trace` runs from any directory, installed by pip or
//! `cargo install`.
//!
//! A default path resolves in this order: the flag the user gave (which must exist), the
//! same relative path under the working directory (the repository, or a folder written
//! by `trace init`, whose copies the user may edit), else the shipped copy. Code that
//! reads by path (rusqlite, the YAML loaders) gets the shipped copy unpacked into a
//! cache folder named by the files' digest.
//!
//! Invariants: an unpacked folder is complete or absent (written under a temporary
//! name, then renamed), and its name changes with any shipped byte, so a stale copy is
//! never read; `trace init` never overwrites a file without `--force`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// Where a resolved default came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The flag the user gave.
    Flag,
    /// The relative default, found under the working directory.
    WorkingDir,
    /// The copy compiled into the binary.
    Shipped,
}

impl Origin {
    /// How `trace doctor` names it.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "given on the command line",
            Origin::WorkingDir => "from the working directory",
            Origin::Shipped => "shipped in the binary",
        }
    }
}

/// A shipped directory or file (`rel`, e.g. `conf` or `fixtures/nsys/mini.sqlite`):
/// `given` when set (it must exist; `flag` names it in the error), else `./rel` when
/// it exists, else the unpacked shipped copy.
pub fn resolve(rel: &str, given: Option<&Path>, flag: &str) -> Result<(PathBuf, Origin)> {
    if let Some(path) = given {
        if !path.exists() {
            return Err(Error::Usage(format!(
                "{flag} {}: no such file or directory",
                path.display()
            )));
        }
        return Ok((path.to_path_buf(), Origin::Flag));
    }
    let local = Path::new(rel);
    if local.exists() {
        return Ok((local.to_path_buf(), Origin::WorkingDir));
    }
    if !is_shipped(rel) {
        return Err(Error::Usage(format!(
            "{rel}: not in the working directory and not shipped; pass {flag}"
        )));
    }
    Ok((unpacked()?.join(rel), Origin::Shipped))
}

/// [`resolve`] without the origin.
pub fn path(rel: &str, given: Option<&Path>, flag: &str) -> Result<PathBuf> {
    resolve(rel, given, flag).map(|(path, _)| path)
}

/// Whether `rel` is a shipped file or a directory holding some.
pub fn is_shipped(rel: &str) -> bool {
    let prefix = format!("{}/", rel.trim_end_matches('/'));
    SHIPPED
        .iter()
        .any(|(path, _)| *path == rel || path.starts_with(&prefix))
}

/// The folder holding the unpacked shipped files (unpacked on first use).
pub fn unpacked() -> Result<&'static Path> {
    static ROOT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    match ROOT.get_or_init(|| unpack().map_err(|e| e.to_string())) {
        Ok(path) => Ok(path.as_path()),
        Err(reason) => Err(Error::Tool(format!(
            "unpacking the shipped files: {reason} (set TRACE_CACHE_DIR to a writable folder)"
        ))),
    }
}

/// `$TRACE_CACHE_DIR`, else `$XDG_CACHE_HOME/trace`, else `~/.cache/trace`, else the
/// system's temporary folder.
fn cache_root() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("TRACE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("trace");
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home).join(".cache").join("trace");
    }
    std::env::temp_dir().join("trace-cache")
}

fn unpack() -> Result<PathBuf> {
    let root = cache_root();
    let name = format!("shipped-{}-{SHIPPED_DIGEST}", env!("CARGO_PKG_VERSION"));
    let done = root.join(&name);
    if is_complete(&done) {
        return Ok(done);
    }
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&root)
        .map_err(|e| Error::io(&root, e))?;
    write_all(staging.path(), true)?;
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, &done) {
        // Another process unpacked the same files first: theirs is as good as ours.
        let _ = std::fs::remove_dir_all(&staged);
        if !is_complete(&done) {
            return Err(Error::io(&done, e));
        }
    }
    Ok(done)
}

/// Every shipped file is there with its length (a folder someone emptied is redone).
fn is_complete(dir: &Path) -> bool {
    SHIPPED.iter().all(|(rel, bytes)| {
        std::fs::metadata(dir.join(rel)).is_ok_and(|m| m.len() == bytes.len() as u64)
    })
}

/// Writes every shipped file under `dest`; an existing file is kept unless `overwrite`.
/// Returns the files written and the files kept.
pub fn write_all(dest: &Path, overwrite: bool) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let (mut written, mut kept) = (Vec::new(), Vec::new());
    for (rel, bytes) in SHIPPED {
        let path = dest.join(rel);
        if path.exists() && !overwrite {
            kept.push(path);
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        written.push(path);
    }
    Ok((written, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_path_is_relative_and_sorted() {
        assert!(SHIPPED.len() > 20, "{} shipped files", SHIPPED.len());
        for pair in SHIPPED.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} !< {}", pair[0].0, pair[1].0);
        }
        for (rel, _) in SHIPPED {
            assert!(!rel.starts_with('/') && !rel.contains('\\'), "{rel}");
        }
        assert!(is_shipped("conf"));
        assert!(is_shipped("fixtures/nsys/mini.sqlite"));
        assert!(!is_shipped("fixtures/nsys/hf_tp2.sqlite"));
        assert!(!is_shipped("con"));
    }
}
