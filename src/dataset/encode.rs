//! Parquet encoding of one table part with its columns encoded in parallel: batches
//! are gathered until [`gather_rows`] rows (or a row group's end), then each column's
//! slices go to its own column writer on a small pool of encoder threads, and every
//! full row group is appended to the file in column order. Gathering keeps the pool's
//! tasks large: the kernel pass hands over batches of a few thousand rows, and a
//! barrier per such batch across 33 columns left most of 16 encoder threads idle.
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

/// Rows gathered before their columns are encoded, per encoder thread: with two
/// threads a kernel-pass batch (~7,600 rows of a big input) is encoded as it comes
/// (gathering more cost 5 % there); with 16, about four batches are gathered, so
/// each of the 33 column tasks is large enough to keep the pool busy (0.48× → 0.44×
/// parquetdir / SQLite on the H200 host).
const GATHER_ROWS_PER_THREAD: usize = 2048;

/// Rows gathered before their columns are encoded.
fn gather_rows() -> usize {
    GATHER_ROWS_PER_THREAD * pool().map_or(1, |p| p.current_num_threads())
}

/// Writes batches to one Parquet file, a row group at a time.
pub struct RowGroupEncoder {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The open row group's column writers, and its rows encoded so far.
    open: Option<Vec<ArrowColumnWriter>>,
    rows: usize,
    /// Slices of the open row group not encoded yet, and their rows.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
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
            pending: Vec::new(),
            pending_rows: 0,
            groups: 0,
            max_rows,
        })
    }

    /// Takes `batch`, encoding gathered rows and closing row groups as they fill.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let room = self.max_rows - self.rows - self.pending_rows;
            let take = room.min(batch.num_rows() - offset);
            self.pending.push(batch.slice(offset, take));
            self.pending_rows += take;
            offset += take;
            if take == room {
                self.close_group()?;
            } else if self.pending_rows >= gather_rows() {
                self.encode_pending()?;
            }
        }
        Ok(())
    }

    /// Encodes the gathered slices: each column writer takes its column of every
    /// slice, in order (the same writes `ArrowWriter` makes, batch by batch).
    fn encode_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let writers = match &mut self.open {
            Some(writers) => writers,
            open => open.insert(self.factory.create_column_writers(self.groups)?),
        };
        let mut columns: Vec<Vec<_>> = writers.iter().map(|_| Vec::new()).collect();
        for batch in &self.pending {
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
            for (column, leaf) in columns.iter_mut().zip(leaves) {
                column.push(leaf);
            }
        }
        on_pool(|| {
            writers
                .par_iter_mut()
                .zip(columns.par_iter())
                .try_for_each(|(writer, leaves)| leaves.iter().try_for_each(|l| writer.write(l)))
        })?;
        self.rows += self.pending_rows;
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }

    fn close_group(&mut self) -> Result<()> {
        self.encode_pending()?;
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

    /// Writes `sizes` batches with both writers at `group_rows` rows per row group;
    /// asserts equal bytes and returns the row groups' sizes.
    fn same_bytes_as_arrow_writer(sizes: &[usize], group_rows: usize) -> Vec<i64> {
        let dir = tempfile::tempdir().unwrap();
        let props = || {
            WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()))
                .set_max_row_group_row_count(Some(group_rows))
                .build()
        };
        let batches: Vec<RecordBatch> = sizes
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
        use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
        let meta = SerializedFileReader::new(File::open(&ours).unwrap()).unwrap();
        meta.metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect()
    }

    #[test]
    fn writes_the_bytes_arrow_writer_writes_across_row_groups() {
        let groups = same_bytes_as_arrow_writer(&[700, 700, 0, 1_300, 300], 1_000);
        assert_eq!(groups, vec![1_000, 1_000, 1_000]);
    }

    #[test]
    fn gathered_batches_encode_to_the_same_bytes() {
        // The first two batches cross the gathering threshold inside the first row
        // group; the rest is gathered over several batches, a row group's end and
        // the close.
        let gather = gather_rows().max(2) / 2 * 2;
        let sizes = [gather / 2 + 1, gather, 2 * gather, 0, 7, 3_000];
        let groups = same_bytes_as_arrow_writer(&sizes, 3 * gather);
        let rest = sizes.iter().sum::<usize>() - 3 * gather;
        assert_eq!(groups, vec![3 * gather as i64, rest as i64]);
    }
}
