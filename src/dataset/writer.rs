//! Streaming Parquet writer for one table part: rows go into the typed builder;
//! each full batch is handed to a writer thread that encodes and compresses it (its
//! columns in parallel: [`super::encode`]) while the importer reads the next rows,
//! so memory stays at a few batches per table and reading and encoding overlap.
//!
//! Batches are written in the order they were made, so the file does not depend on
//! scheduling. The file is always written, even with zero rows, so every table of a
//! run exists and carries its schema.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use crate::dataset::encode::RowGroupEncoder;
use crate::dataset::schema::TableBuilder;
use crate::error::{Error, Result};

/// Rows per Arrow batch (and Parquet row-group granularity).
pub const BATCH_ROWS: usize = 64 * 1024;

/// Columns written without a dictionary (their values rarely repeat).
const DISTINCT_VALUED: &[&str] = &["start_ns", "end_ns", "dur_ns", "correlation_id"];

/// Batches in flight between the importer and the writer thread.
const QUEUE: usize = 2;

/// Writes one Parquet file for table `B`.
pub struct TableWriter<B: TableBuilder> {
    /// Append values here, then call [`TableWriter::row_done`].
    pub rows: B,
    batches: Option<SyncSender<RecordBatch>>,
    encoder: Option<JoinHandle<Result<u64>>>,
    path: PathBuf,
}

impl<B: TableBuilder> TableWriter<B> {
    /// Creates `path` (its parent must exist) and starts its writer thread.
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let level = ZstdLevel::try_new(1).map_err(|e| parquet_error(path, e))?;
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(1024 * 1024))
            // Row-group min/max are what readers prune on; per-page statistics and
            // column indexes cost encode time for little gain on these tables.
            .set_statistics_enabled(EnabledStatistics::Chunk);
        // Timestamps, durations and correlation ids are (nearly) all distinct: a
        // dictionary only costs hashing before Parquet falls back to plain.
        for field in B::schema().fields() {
            let column = || ColumnPath::from(field.name().as_str());
            if DISTINCT_VALUED.contains(&field.name().as_str()) {
                props = props.set_column_dictionary_enabled(column(), false);
            }
            // Kernel names, NVTX text: long, sharing long prefixes, interleaved in
            // every row group. Their min/max prunes nothing and costs two string
            // comparisons per row.
            if matches!(field.data_type(), DataType::Dictionary(..)) {
                props = props.set_column_statistics_enabled(column(), EnabledStatistics::None);
            }
        }
        let props = props.build();
        let mut writer =
            RowGroupEncoder::new(file, B::schema(), props).map_err(|e| parquet_error(path, e))?;
        let (sender, receiver) = sync_channel::<RecordBatch>(QUEUE);
        let thread_path = path.to_path_buf();
        let encoder = std::thread::Builder::new()
            .name(format!("parquet-{}", B::NAME))
            .spawn(move || -> Result<u64> {
                let mut written = 0u64;
                let mut busy = std::time::Duration::ZERO;
                for batch in receiver {
                    written += batch.num_rows() as u64;
                    let started = std::time::Instant::now();
                    writer
                        .write(&batch)
                        .map_err(|e| parquet_error(&thread_path, e))?;
                    busy += started.elapsed();
                }
                let started = std::time::Instant::now();
                writer.close().map_err(|e| parquet_error(&thread_path, e))?;
                busy += started.elapsed();
                crate::stage_timing::report(B::NAME, "Parquet encode (writer thread busy)", busy);
                Ok(written)
            })
            .map_err(|e| Error::io(path, e))?;
        Ok(TableWriter {
            rows: B::default(),
            batches: Some(sender),
            encoder: Some(encoder),
            path: path.to_path_buf(),
        })
    }

    /// Call after appending one value to every column; hands off a full batch.
    pub fn row_done(&mut self) -> Result<()> {
        if self.rows.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes a batch built elsewhere (rows pending in [`TableWriter::rows`] go
    /// first). Its size is kept: the caller's batches must not depend on scheduling.
    pub fn write_batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.flush()?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.send(batch)
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let batch = self
            .rows
            .finish()
            .map_err(|e| parquet_error(&self.path, e))?;
        self.send(batch)
    }

    fn send(&mut self, batch: RecordBatch) -> Result<()> {
        let sent = self.batches.as_ref().map(|s| s.send(batch));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer thread stopped: its own error says why.
            _ => self.join().map(|_| ()),
        }
    }

    fn join(&mut self) -> Result<u64> {
        self.batches = None;
        match self.encoder.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(parquet_error(
                &self.path,
                "the Parquet writer thread panicked",
            )),
            None => Err(parquet_error(
                &self.path,
                "the Parquet writer already stopped",
            )),
        }
    }

    /// Flushes pending rows, closes the file and returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.join()
    }
}

impl<B: TableBuilder> Drop for TableWriter<B> {
    fn drop(&mut self) {
        // An abandoned writer (an error elsewhere) still ends its thread; the
        // half-written file lies in the staging directory, which is removed.
        self.batches = None;
        if let Some(encoder) = self.encoder.take() {
            let _ = encoder.join();
        }
    }
}

fn parquet_error(path: &Path, e: impl std::fmt::Display + 'static) -> Error {
    // A write that failed in the filesystem (disk full, quota, I/O error) is the
    // user's to fix (exit 1), not an encoding bug (exit 2).
    let any: &dyn std::any::Any = &e;
    if let Some(datafusion::parquet::errors::ParquetError::External(cause)) =
        any.downcast_ref::<datafusion::parquet::errors::ParquetError>()
    {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Error::io(path, std::io::Error::new(io.kind(), io.to_string()));
        }
    }
    Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::parquet::errors::ParquetError;

    #[test]
    fn a_full_disk_while_writing_parquet_is_a_user_error() {
        let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let err = parquet_error(
            Path::new("out/kernels/part-0.parquet"),
            ParquetError::External(Box::new(full)),
        );
        assert_eq!(err.exit_code(), 1, "{err}");
        assert!(
            err.to_string().contains("out/kernels/part-0.parquet"),
            "{err}"
        );
        let encoding = parquet_error(Path::new("p"), ParquetError::General("bad page".into()));
        assert_eq!(encoding.exit_code(), 2, "an encoding failure is ours");
    }
}
