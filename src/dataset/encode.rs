//! Parquet encoding of one table part with its columns encoded in parallel: each
//! batch's columns go to their own column writers on a small pool of encoder
//! threads, and every full row group is appended to the file in column order.
//!
//! Invariants: the bytes equal what `ArrowWriter` writes for the same batches and
//! properties (the same column writers, fed the same slices; a row group is closed
//! at exactly the properties' row count, a batch that crosses it is split
//! there), so a file never depends on how many threads encoded it. The pool is its
//! own, never rayon's global one: the kernel pass's workers block on the writer's
//! queue, and an encoder waiting on them would deadlock.

use std::fs::File;
use std::sync::OnceLock;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::errors::{ParquetError, Result};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

/// Encoder threads, shared by every table being written (at most the cores).
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("parquet-encode-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Runs `work` on the encoder pool (on this thread if the pool could not start).
fn on_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    match pool() {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Writes batches to one Parquet file, a row group at a time.
pub struct RowGroupEncoder {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The open row group's column writers, and its rows so far.
    open: Option<Vec<ArrowColumnWriter>>,
    rows: usize,
    groups: usize,
    max_rows: usize,
}

impl RowGroupEncoder {
    /// Starts `file` for batches of `schema`, with `props` (which set the row-group size).
    pub fn new(file: File, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let (file, factory) =
            ArrowWriter::try_new(file, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(RowGroupEncoder {
            file,
            factory,
            schema,
            open: None,
            rows: 0,
            groups: 0,
            max_rows,
        })
    }

    /// Encodes `batch`, closing row groups as they fill.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.max_rows - self.rows).min(batch.num_rows() - offset);
            self.encode(&batch.slice(offset, take))?;
            offset += take;
            if self.rows >= self.max_rows {
                self.close_group()?;
            }
        }
        Ok(())
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        let writers = match &mut self.open {
            Some(writers) => writers,
            open => open.insert(self.factory.create_column_writers(self.groups)?),
        };
        let mut leaves = Vec::with_capacity(writers.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, column)?);
        }
        if leaves.len() != writers.len() {
            return Err(ParquetError::General(format!(
                "{} leaf columns for {} column writers",
                leaves.len(),
                writers.len()
            )));
        }
        on_pool(|| {
            writers
                .par_iter_mut()
                .zip(leaves.par_iter())
                .try_for_each(|(writer, leaf)| writer.write(leaf))
        })?;
        self.rows += batch.num_rows();
        Ok(())
    }

    fn close_group(&mut self) -> Result<()> {
        let Some(writers) = self.open.take() else {
            return Ok(());
        };
        let chunks = on_pool(|| {
            writers
                .into_par_iter()
                .map(ArrowColumnWriter::close)
                .collect::<Result<Vec<_>>>()
        })?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.groups += 1;
        self.rows = 0;
        Ok(())
    }

    /// Closes the last row group and writes the footer.
    pub fn close(mut self) -> Result<()> {
        self.close_group()?;
        self.file.close()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::schema::{KernelsBuilder, TableBuilder};
    use datafusion::parquet::basic::{Compression, ZstdLevel};

    fn batch(rows: usize, seed: i64) -> RecordBatch {
        let mut b = KernelsBuilder::default();
        for i in 0..rows as i64 {
            let v = seed * 1_000 + i;
            b.device.append_value((v % 3) as i32);
            b.pid.append_value(7);
            b.tid.append_option((v % 5 != 0).then_some(v));
            b.stream.append_value(v % 4);
            b.correlation_id.append_option(Some(v));
            b.start_ns.append_value(v * 10);
            b.end_ns.append_value(v * 10 + 5);
            b.dur_ns.append_value(5);
            b.name.append_keyed(v % 11, &format!("kernel_{}", v % 11));
            b.demangled
                .append_keyed(v % 11, &format!("void kernel_{}<float>()", v % 11));
            b.category
                .append_value(["gemm", "attention", "other"][(v % 3) as usize]);
            b.category_source.append_value("name");
            b.name_category.append_value("gemm");
            b.module
                .append_option((v % 2 == 0).then_some("model.layers.0.mlp"));
            b.module_class.append_option(None::<&str>);
            b.layer.append_option(Some((v % 7) as i32));
            b.launch.append_value("kernel");
            b.api.append_option(Some("cudaLaunchKernel"));
            b.graph_node_id.append_option(None);
            for col in [
                &mut b.grid_x,
                &mut b.grid_y,
                &mut b.grid_z,
                &mut b.block_x,
                &mut b.block_y,
                &mut b.block_z,
                &mut b.registers,
                &mut b.shared_static_bytes,
                &mut b.shared_dynamic_bytes,
            ] {
                col.append_value((v % 13) as i32);
            }
            b.step.append_option(Some(v / 100));
            b.phase.append_option(Some("decode"));
            b.bsz.append_option(Some(8));
            b.seq.append_option(None);
            b.iter.append_option(Some(1));
        }
        b.finish().unwrap()
    }

    #[test]
    fn writes_the_bytes_arrow_writer_writes_across_row_groups() {
        let dir = tempfile::tempdir().unwrap();
        let props = || {
            WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()))
                .set_max_row_group_row_count(Some(1_000))
                .build()
        };
        let batches: Vec<RecordBatch> = [700, 700, 0, 1_300, 300]
            .iter()
            .enumerate()
            .map(|(i, &rows)| batch(rows, i as i64))
            .collect();
        let (ours, theirs) = (dir.path().join("ours"), dir.path().join("theirs"));
        let schema = KernelsBuilder::schema();
        let mut encoder =
            RowGroupEncoder::new(File::create(&ours).unwrap(), schema.clone(), props()).unwrap();
        let mut writer =
            ArrowWriter::try_new(File::create(&theirs).unwrap(), schema, Some(props())).unwrap();
        for b in &batches {
            encoder.write(b).unwrap();
            writer.write(b).unwrap();
        }
        encoder.close().unwrap();
        writer.close().unwrap();
        let (a, b) = (
            std::fs::read(&ours).unwrap(),
            std::fs::read(&theirs).unwrap(),
        );
        assert!(a.len() > 1_000);
        assert!(a == b, "{} vs {} bytes", a.len(), b.len());
        // Three row groups: 1,000 + 1,000 + 1,000 rows.
        use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
        let meta = SerializedFileReader::new(File::open(&ours).unwrap()).unwrap();
        let groups: Vec<i64> = meta
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, vec![1_000, 1_000, 1_000]);
    }
}
