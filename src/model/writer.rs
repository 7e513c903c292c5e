//! Streaming Parquet writer for one table part: rows go into the typed builder,
//! full batches are encoded as they fill, so memory stays at one batch per table.
//!
//! The file is always written, even with zero rows, so every table of a run exists
//! and carries its schema.

use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::model::schema::TableBuilder;

/// Rows per Arrow batch (and Parquet row-group granularity).
pub const BATCH_ROWS: usize = 64 * 1024;

/// Writes one Parquet file for table `B`.
pub struct TableWriter<B: TableBuilder> {
    /// Append values here, then call [`TableWriter::row_done`].
    pub rows: B,
    writer: ArrowWriter<File>,
    path: PathBuf,
    written: u64,
}

impl<B: TableBuilder> TableWriter<B> {
    /// Creates `path` (its parent must exist).
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).map_err(|e| parquet_error(path, e))?,
            ))
            .set_max_row_group_row_count(Some(1024 * 1024))
            .build();
        let writer = ArrowWriter::try_new(file, B::schema(), Some(props))
            .map_err(|e| parquet_error(path, e))?;
        Ok(TableWriter {
            rows: B::default(),
            writer,
            path: path.to_path_buf(),
            written: 0,
        })
    }

    /// Call after appending one value to every column; encodes a full batch.
    pub fn row_done(&mut self) -> Result<()> {
        if self.rows.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let batch = self
            .rows
            .finish()
            .map_err(|e| parquet_error(&self.path, e))?;
        self.written += batch.num_rows() as u64;
        self.writer
            .write(&batch)
            .map_err(|e| parquet_error(&self.path, e))
    }

    /// Flushes pending rows, closes the file and returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| parquet_error(&self.path, e))?;
        Ok(self.written)
    }
}

fn parquet_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
