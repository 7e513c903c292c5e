//! Which importer reads an input: an SQLite export, an nsys parquetdir export (a folder
//! with `StringIds.parquet`), an `.nsys-rep` report (exported first), or a Kineto JSON
//! trace, told by the first bytes (and the report's extension). Anything else is an
//! error saying how to make a readable export.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// The UTF-8 byte-order mark.
pub const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// What kind of file an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// An SQLite database (expected to be an nsys export).
    Sqlite,
    /// An Nsight Systems report, to be exported to SQLite first.
    NsysRep,
    /// JSON or gzip: a PyTorch-profiler (Kineto) chrome trace.
    Kineto,
    /// A folder of `nsys export --type parquetdir`.
    ParquetDir,
}

/// Identifies an input by its first bytes (and `.nsys-rep` by extension).
pub fn probe(path: &Path) -> Result<InputKind> {
    // Opening a FIFO would block until a writer comes; a device never ends.
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        if path.join("StringIds.parquet").is_file() {
            return Ok(InputKind::ParquetDir);
        }
        return Err(Error::input(
            path,
            "a folder, but not an nsys parquetdir export (no StringIds.parquet in it): give a trace file, or a folder from `nsys export --type parquetdir`",
        ));
    }
    if !meta.is_file() {
        return Err(Error::input(
            path,
            "not a regular file (a FIFO or device): give the trace file itself",
        ));
    }
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let n = file.read(&mut head).map_err(|e| Error::io(path, e))?;
    let head = &head[..n];
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(InputKind::Sqlite);
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    if extension == "nsys-rep" || extension == "qdrep" {
        return Ok(InputKind::NsysRep);
    }
    // A UTF-8 byte-order mark may precede JSON (Windows editors write one).
    let text = head.strip_prefix(UTF8_BOM).unwrap_or(head);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if head.starts_with(&[0x1f, 0x8b]) || first == Some(&b'{') || first == Some(&b'[') {
        return Ok(InputKind::Kineto);
    }
    if n == 0 {
        return Err(Error::input(path, "file is empty"));
    }
    Err(Error::input(
        path,
        "not an Nsight Systems SQLite export or .nsys-rep report (make one with `nsys export --type sqlite REPORT.nsys-rep`)",
    ))
}
