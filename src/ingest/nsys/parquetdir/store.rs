//! An `nsys export --type parquetdir` folder: one Parquet file per table of the SQLite
//! export, with the same table and column names. Opening reads only the footers
//! (tables, columns, row groups); readers ask for the columns they need, by name, and
//! get Arrow batches.
//!
//! Invariants: a folder that is not such an export is an [`Error::Input`] saying how to
//! make one; integer columns read as `i64` whatever their stored width, unsigned ids
//! (`globalTid`, `demangledName`, …) bit for bit as the SQLite export stores them;
//! a column of another type is an [`Error::Schema`] naming table and column.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::{
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use datafusion::parquet::arrow::ProjectionMask;

use crate::error::{Error, Result};

/// Rows per Arrow batch read.
const BATCH_ROWS: usize = 64 * 1024;

/// One table's file: its columns and the rows of each row group.
#[derive(Debug)]
struct TableFile {
    path: PathBuf,
    columns: HashSet<String>,
    group_rows: Vec<i64>,
}

/// An opened parquetdir export.
#[derive(Debug)]
pub struct ParquetDir {
    pub path: PathBuf,
    tables: HashMap<String, TableFile>,
}

impl ParquetDir {
    /// Opens `dir` and checks that it is an nsys parquetdir export.
    pub fn open(dir: &Path) -> Result<ParquetDir> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut tables = HashMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let Some(table) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".parquet"))
            else {
                continue;
            };
            let table = table.to_string();
            let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| Error::input(&path, format!("not a readable Parquet file: {e}")))?;
            let columns = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let group_rows = builder
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            tables.insert(
                table,
                TableFile {
                    path,
                    columns,
                    group_rows,
                },
            );
        }
        let is_nsys = tables.contains_key("StringIds")
            && (tables.contains_key("META_DATA_EXPORT")
                || tables.keys().any(|t| t.starts_with("CUPTI_ACTIVITY_KIND_"))
                || tables.contains_key("NVTX_EVENTS"));
        if !is_nsys {
            return Err(Error::input(
                dir,
                "a folder, but not an Nsight Systems parquetdir export (no StringIds.parquet and META_DATA_EXPORT.parquet); make one with `nsys export --type parquetdir REPORT.nsys-rep`",
            ));
        }
        Ok(ParquetDir {
            path: dir.to_path_buf(),
            tables,
        })
    }

    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.tables
            .get(table)
            .is_some_and(|t| t.columns.contains(column))
    }

    /// Fails with a schema error unless `table` has every column in `required`.
    pub fn require_columns(&self, table: &str, required: &[&str]) -> Result<()> {
        match required.iter().find(|c| !self.has_column(table, c)) {
            None => Ok(()),
            Some(column) => Err(self.schema_error(
                table,
                format!("missing column {column}; re-export the .nsys-rep with a recent nsys (`nsys export --type parquetdir`)"),
            )),
        }
    }

    /// Rows of `table` (0 when absent), from the footer.
    pub fn row_count(&self, table: &str) -> u64 {
        self.tables
            .get(table)
            .map_or(0, |t| t.group_rows.iter().map(|&n| n.max(0) as u64).sum())
    }

    /// Row groups of `table`, each as (first row, rows).
    pub fn row_groups(&self, table: &str) -> Vec<(i64, i64)> {
        let mut first = 0;
        let mut groups = Vec::new();
        for &rows in self.tables.get(table).map_or(&[][..], |t| &t.group_rows) {
            groups.push((first, rows));
            first += rows;
        }
        groups
    }

    /// Reads `columns` of `table` (those it has), rows `first..=last` of the file
    /// (`None`: all), batch by batch into `each`, until it returns `false`.
    pub fn scan(
        &self,
        table: &str,
        columns: &[&str],
        rows: Option<(i64, i64)>,
        each: &mut dyn FnMut(&Batch) -> Result<bool>,
    ) -> Result<()> {
        let Some(file) = self.tables.get(table) else {
            return Ok(());
        };
        let parquet_error =
            |e: &dyn std::fmt::Display| Error::input(&file.path, format!("reading Parquet: {e}"));
        let handle = File::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(handle).map_err(|e| parquet_error(&e))?;
        let indices: Vec<usize> = builder
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| columns.contains(&f.name().as_str()))
            .map(|(i, _)| i)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        let mut builder = builder.with_projection(mask).with_batch_size(BATCH_ROWS);
        if let Some((first, last)) = rows {
            let (groups, skip) = self.groups_covering(table, first, last);
            let selection = RowSelection::from(vec![
                RowSelector::skip(skip as usize),
                RowSelector::select((last - first + 1).max(0) as usize),
            ]);
            builder = builder
                .with_row_groups(groups)
                .with_row_selection(selection);
        }
        let reader = builder.build().map_err(|e| parquet_error(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| parquet_error(&e))?;
            let more = each(&Batch {
                dir: self,
                table,
                batch,
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// [`ParquetDir::scan`] with every column decoded on its own thread (a row
    /// group's columns are independent chunks), the batches then put back together
    /// in column order: the same batches, in the wall time of the slowest column.
    pub fn scan_columns_in_parallel(
        &self,
        table: &str,
        columns: &[&str],
        rows: Option<(i64, i64)>,
        each: &mut dyn FnMut(&Batch) -> Result<bool>,
    ) -> Result<()> {
        let present: Vec<&str> = columns
            .iter()
            .copied()
            .filter(|c| self.has_column(table, c))
            .collect();
        let decoded: Vec<Result<Vec<RecordBatch>>> = std::thread::scope(|scope| {
            let threads: Vec<_> = present
                .iter()
                .map(|&column| {
                    scope.spawn(move || {
                        let mut batches = Vec::new();
                        self.scan(table, &[column], rows, &mut |b| {
                            batches.push(b.batch.clone());
                            Ok(true)
                        })?;
                        Ok(batches)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| {
                    t.join().unwrap_or_else(|_| {
                        Err(self.schema_error(table, "a column decoder panicked".into()))
                    })
                })
                .collect()
        });
        let decoded = decoded.into_iter().collect::<Result<Vec<_>>>()?;
        let batches = decoded.first().map_or(0, Vec::len);
        for i in 0..batches {
            let mut fields = Vec::with_capacity(decoded.len());
            let mut arrays = Vec::with_capacity(decoded.len());
            for column in &decoded {
                let Some(part) = column.get(i) else {
                    return Err(self
                        .schema_error(table, "columns decoded to different batch counts".into()));
                };
                fields.push(part.schema().field(0).clone());
                arrays.push(Arc::clone(part.column(0)));
            }
            let schema = Arc::new(Schema::new(fields));
            let batch = RecordBatch::try_new(schema, arrays)
                .map_err(|e| self.schema_error(table, format!("columns of unequal length: {e}")))?;
            if !each(&Batch {
                dir: self,
                table,
                batch,
            })? {
                break;
            }
        }
        Ok(())
    }

    /// The row groups holding rows `first..=last`, and the rows to skip in the first.
    fn groups_covering(&self, table: &str, first: i64, last: i64) -> (Vec<usize>, i64) {
        let mut groups = Vec::new();
        let mut skip = 0;
        for (i, (start, rows)) in self.row_groups(table).into_iter().enumerate() {
            let end = start + rows - 1;
            if end < first || start > last {
                continue;
            }
            if groups.is_empty() {
                skip = first - start;
            }
            groups.push(i);
        }
        (groups, skip)
    }

    pub fn schema_error(&self, table: &str, reason: String) -> Error {
        Error::Schema {
            path: self.path.clone(),
            table: table.to_string(),
            reason,
        }
    }
}

/// One batch of a table, read by column name.
pub struct Batch<'a> {
    dir: &'a ParquetDir,
    table: &'a str,
    pub batch: RecordBatch,
}

impl Batch<'_> {
    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Column `name` as `i64` (`None` when the table lacks it).
    pub fn ints(&self, name: &str) -> Result<Option<Int64Array>> {
        let Some(column) = self.batch.column_by_name(name) else {
            return Ok(None);
        };
        let ints = match column.data_type() {
            DataType::Int64 => column.as_primitive::<Int64Type>().clone(),
            // Ids are unsigned in Parquet and signed in SQLite: the same 64 bits.
            DataType::UInt64 => column
                .as_primitive::<UInt64Type>()
                .unary::<_, Int64Type>(|v| v as i64),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Boolean
            | DataType::Null => self
                .cast(name, column, &DataType::Int64)?
                .as_primitive()
                .clone(),
            other => return Err(self.wrong_type(name, other, "an integer")),
        };
        Ok(Some(ints))
    }

    /// Column `name` as text (`None` when the table lacks it).
    pub fn texts(&self, name: &str) -> Result<Option<StringArray>> {
        let Some(column) = self.batch.column_by_name(name) else {
            return Ok(None);
        };
        match column.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Ok(Some(
                self.cast(name, column, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            )),
            other => Err(self.wrong_type(name, other, "text")),
        }
    }

    fn cast(&self, name: &str, column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
        cast(column, to).map_err(|e| {
            self.dir
                .schema_error(self.table, format!("column {name}: {e}"))
        })
    }

    fn wrong_type(&self, name: &str, found: &DataType, wanted: &str) -> Error {
        self.dir.schema_error(
            self.table,
            format!("column {name} is {found}, not {wanted}"),
        )
    }
}

/// Value `i` of an optional integer column (`None` for a null or a missing column).
pub fn at(column: &Option<Int64Array>, i: usize) -> Option<i64> {
    column
        .as_ref()
        .and_then(|c| c.is_valid(i).then(|| c.value(i)))
}

/// Value `i` of an optional text column.
pub fn text_at(column: &Option<StringArray>, i: usize) -> Option<&str> {
    column
        .as_ref()
        .and_then(|c| c.is_valid(i).then(|| c.value(i)))
}
