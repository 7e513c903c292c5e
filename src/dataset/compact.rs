//! Compacted summaries: one Parquet file holding the `shape_categories` rows of many
//! runs, so that a question over a fleet's history opens one file instead of one per
//! run. The file is a cache: what it holds is always derivable from the runs' own
//! `step_categories`, and a reader uses a run's rows from it only while the run's
//! current generation is the one the rows were computed from.
//!
//! ```text
//! <root>/.compact/shape_categories-<n>.parquet   rows (with `run`), sorted by run;
//!                                                 its footer's `trace.generations`
//!                                                 names each run's generation
//! <root>/.compact/lock                            held (flock) while one is written
//! ```
//!
//! Invariants: a compact file is written under a temporary name and linked to its
//! final name, which it never had before (n grows), so a reader sees a whole file or
//! none; a reader takes the highest n; files other than the newest two are removed
//! only when a minute old (a session reads what it chose, as with generations, see
//! [`crate::dataset::commit`]). A generation is named by its directory name, inode
//! and change time: generations are never rewritten in place, so an equal name means
//! equal rows. Everything here is hidden from readers of the dataset (`.compact`).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

use crate::dataset::layout::{current_generation, older_than, RUNS_DIR};
use crate::error::{Error, Result};

/// Hidden directory of compacted summaries under the dataset root.
pub const COMPACT_DIR: &str = ".compact";

/// The table compacted files hold.
pub const COMPACT_TABLE: &str = "shape_categories";

/// Footer key of the run → generation map.
const GENERATIONS_KEY: &str = "trace.generations";

/// Footer key of the writer's tag (the rollup's version): readers use only files
/// whose tag is theirs.
const TAG_KEY: &str = "trace.tag";

/// Compact files older than this, and not among the newest two, are removed.
const KEEP_FOR: Duration = Duration::from_secs(60);

/// Run key → the generation its rows were computed from (see [`generation_of`]).
pub type Generations = BTreeMap<String, String>;

/// The newest compact file of a dataset and the generations it covers.
pub struct Compacted {
    pub path: PathBuf,
    pub generations: Generations,
    pub tag: String,
}

/// Names run `key`'s current generation: `gen-<n>:<inode>:<ctime ns>`; `None` for a
/// run without generations (written before them) or one removed meanwhile.
pub fn generation_of(root: &Path, key: &str) -> Option<String> {
    generation_at(&current_generation(&root.join(RUNS_DIR).join(key))?)
}

/// [`generation_of`] for a generation directory already resolved (a reader's pin).
#[cfg(unix)]
pub fn generation_at(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let name = dir.file_name()?.to_string_lossy();
    let meta = std::fs::metadata(dir).ok()?;
    let ctime = meta.ctime() as i128 * 1_000_000_000 + i128::from(meta.ctime_nsec());
    Some(format!("{name}:{}:{ctime}", meta.ino()))
}

/// Without inodes a generation cannot be told from a later one of the same name:
/// nothing is ever judged fresh, so compact files are never used.
#[cfg(not(unix))]
pub fn generation_at(_dir: &Path) -> Option<String> {
    None
}

/// The newest compact file under `root`, if any; a file whose footer cannot be read
/// is skipped (the next compaction replaces it).
pub fn latest(root: &Path) -> Option<Compacted> {
    let mut numbered = numbered_files(root);
    while let Some((_, path)) = numbered.pop() {
        if let Ok((generations, tag)) = read_footer(&path) {
            return Some(Compacted {
                path,
                generations,
                tag,
            });
        }
    }
    None
}

fn read_footer(path: &Path) -> Result<(Generations, String)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| Error::input(path, format!("not a readable Parquet file ({e})")))?;
    let value = |key: &str| {
        reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|k| k.key == key))
            .and_then(|kv| kv.value.clone())
            .ok_or_else(|| Error::input(path, format!("no {key} in the footer")))
    };
    let generations = serde_json::from_str(&value(GENERATIONS_KEY)?)
        .map_err(|e| Error::input(path, format!("{GENERATIONS_KEY}: {e}")))?;
    Ok((generations, value(TAG_KEY)?))
}

/// The Arrow schema stored in a compact file.
pub fn schema_of_file(path: &Path) -> Result<SchemaRef> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map(|reader| reader.schema().clone())
        .map_err(|e| Error::input(path, format!("not a readable Parquet file ({e})")))
}

/// `(n, path)` of every `shape_categories-<n>.parquet`, ascending.
fn numbered_files(root: &Path) -> Vec<(u64, PathBuf)> {
    let prefix = format!("{COMPACT_TABLE}-");
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(root.join(COMPACT_DIR))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let n = name.strip_prefix(&prefix)?.strip_suffix(".parquet")?;
                    Some((n.parse().ok()?, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Held while a compact file is written; `None` from [`lock`] when another process
/// holds it (that one's file will do).
pub struct CompactLock(#[allow(dead_code)] File);

/// Takes the dataset's compaction lock without waiting.
pub fn lock(root: &Path) -> Result<Option<CompactLock>> {
    let dir = root.join(COMPACT_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join("lock");
    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(CompactLock(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// The rows of a compact file and what its footer says of them.
pub struct Contents<'a> {
    pub schema: SchemaRef,
    /// Sorted by run.
    pub batches: &'a [RecordBatch],
    pub generations: &'a Generations,
    pub tag: &'a str,
}

/// Writes `contents` as the next compact file, then removes files no reader can
/// still be using; returns its path and size.
pub fn write(root: &Path, _lock: &CompactLock, contents: &Contents) -> Result<(PathBuf, u64)> {
    let dir = root.join(COMPACT_DIR);
    let next = numbered_files(root).last().map_or(0, |(n, _)| n + 1);
    let path = dir.join(format!("{COMPACT_TABLE}-{next}.parquet"));
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let temporary = dir.join(format!(".tmp-{}-{nanos}.parquet", std::process::id()));
    let written = write_file(&temporary, contents);
    let linked = written
        .and_then(|_| std::fs::hard_link(&temporary, &path).map_err(|e| Error::io(&path, e)));
    let _ = std::fs::remove_file(&temporary);
    linked?;
    prune(root);
    let bytes = std::fs::metadata(&path)
        .map_err(|e| Error::io(&path, e))?
        .len();
    Ok((path, bytes))
}

fn write_file(path: &Path, contents: &Contents) -> Result<()> {
    let parquet_error = |e: &dyn std::fmt::Display| Error::input(path, format!("writing: {e}"));
    let text = serde_json::to_string(contents.generations).map_err(|e| parquet_error(&e))?;
    let level = ZstdLevel::try_new(1).map_err(|e| parquet_error(&e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        // Row groups small enough that `--run` prunes most of a fleet's file.
        .set_max_row_group_row_count(Some(64 * 1024))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(GENERATIONS_KEY.into(), text),
            KeyValue::new(TAG_KEY.into(), contents.tag.to_string()),
        ]))
        .build();
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = ArrowWriter::try_new(file, contents.schema.clone(), Some(props))
        .map_err(|e| parquet_error(&e))?;
    for batch in contents.batches {
        writer.write(batch).map_err(|e| parquet_error(&e))?;
    }
    let file = writer.into_inner().map_err(|e| parquet_error(&e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// Removes compact files other than the newest two once [`KEEP_FOR`] old, and
/// temporary files of writers that died (an hour old). Best effort.
fn prune(root: &Path) {
    let mut numbered = numbered_files(root);
    numbered.truncate(numbered.len().saturating_sub(2));
    for (_, path) in numbered {
        if older_than(&path, KEEP_FOR) {
            let _ = std::fs::remove_file(path);
        }
    }
    let Ok(entries) = std::fs::read_dir(root.join(COMPACT_DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let temporary = entry.file_name().to_string_lossy().starts_with(".tmp-");
        if temporary && older_than(&entry.path(), Duration::from_secs(3600)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
