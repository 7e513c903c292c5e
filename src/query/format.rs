//! Writing query results: an aligned table for the terminal, CSV, JSON (an array
//! of objects) or Parquet. Writers take any `io::Write`, so tests never touch disk;
//! files given with `--out` are written to a temporary name and renamed.

use std::io::Write;
use std::path::Path;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};

/// Output format of `trace query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

fn encode_error(format: &str, e: impl std::fmt::Display) -> Error {
    Error::Query {
        context: format!("writing {format}"),
        reason: e.to_string(),
    }
}

/// Writes `batches` (all of `schema`) to `out` in `format`.
pub fn write(
    format: OutputFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("<output>", e);
    match format {
        OutputFormat::Table => {
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if rows == 0 {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}\n(0 rows)", names.join(" | ")).map_err(io)?;
            } else {
                let table = pretty_format_batches(batches).map_err(|e| encode_error("table", e))?;
                // A table is for a terminal: control characters in the data (an escape
                // sequence in a kernel name) are shown, never sent raw.
                let table = crate::vocab::without_controls(&table.to_string(), &['\n']);
                writeln!(out, "{table}").map_err(io)?;
            }
        }
        OutputFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            if batches.is_empty() {
                writer
                    .write(&RecordBatch::new_empty(schema.clone()))
                    .map_err(|e| encode_error("CSV", e))?;
            }
            for batch in batches {
                writer.write(batch).map_err(|e| encode_error("CSV", e))?;
            }
        }
        OutputFormat::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer
                .write_batches(&refs)
                .map_err(|e| encode_error("JSON", e))?;
            // ArrayWriter writes `[]` for zero rows.
            writer.finish().map_err(|e| encode_error("JSON", e))?;
            writeln!(out).map_err(io)?;
        }
        OutputFormat::Parquet => {
            let mut writer = ArrowWriter::try_new(out, schema.clone(), None)
                .map_err(|e| encode_error("Parquet", e))?;
            for batch in batches {
                writer
                    .write(batch)
                    .map_err(|e| encode_error("Parquet", e))?;
            }
            writer.close().map_err(|e| encode_error("Parquet", e))?;
        }
    }
    Ok(())
}

/// Writes to `path` via a temporary file in the same directory, then renames.
pub fn write_file(
    format: OutputFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    path: &Path,
) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.partial"));
    let result = (|| {
        let file = std::fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        let mut out = std::io::BufWriter::new(file);
        write(format, schema, batches, &mut out)?;
        out.flush().map_err(|e| Error::io(&partial, e))?;
        std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}
