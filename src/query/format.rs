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
                match plain_table(schema, batches)? {
                    Some(table) => out.write_all(table.as_bytes()).map_err(io)?,
                    None => {
                        let table =
                            pretty_format_batches(batches).map_err(|e| encode_error("table", e))?;
                        // A table is for a terminal: control characters in the data (an
                        // escape sequence in a kernel name) are shown, never sent raw.
                        let table = crate::vocab::without_controls(&table.to_string(), &['\n']);
                        writeln!(out, "{table}").map_err(io)?;
                    }
                }
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

/// The table `pretty_format_batches` draws, drawn directly (ten times faster on a
/// fleet's 90,000 rows) when every cell is printable ASCII without edge spaces, where
/// width is length; `None` otherwise, for the general drawing (Unicode widths,
/// multi-line cells, escaped controls). Ends with a newline.
fn plain_table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Option<String>> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_display_error(true);
    let plain = |s: &str| s.bytes().all(|b| (b' '..=b'~').contains(&b)) && s.trim() == s;
    let mut columns: Vec<Vec<String>> = schema
        .fields()
        .iter()
        .map(|f| vec![f.name().clone()])
        .collect();
    for batch in batches {
        for (column, array) in columns.iter_mut().zip(batch.columns()) {
            let formatter =
                ArrayFormatter::try_new(array, &options).map_err(|e| encode_error("table", e))?;
            for row in 0..batch.num_rows() {
                let cell = formatter.value(row).to_string();
                if !plain(&cell) {
                    return Ok(None);
                }
                column.push(cell);
            }
        }
    }
    if columns.iter().any(|c| !plain(&c[0])) {
        return Ok(None);
    }
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| c.iter().map(String::len).max().unwrap_or(0))
        .collect();
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let rows = columns.first().map_or(0, Vec::len);
    let mut text = String::with_capacity(rule.len() * (rows + 3));
    for row in 0..rows {
        if row <= 1 {
            text.push_str(&rule);
        }
        for (column, width) in columns.iter().zip(&widths) {
            let cell = &column[row];
            text.push_str("| ");
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - cell.len() + 1));
        }
        text.push_str("|\n");
    }
    text.push_str(&rule);
    Ok(Some(text))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, StringArray,
    };
    use datafusion::arrow::datatypes::Int32Type;
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;

    fn batch(names: Vec<Option<&str>>) -> RecordBatch {
        let n = names.len();
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("name", Arc::new(StringArray::from(names.clone()))),
            (
                "a_long_header",
                Arc::new(Int64Array::from_iter(
                    (0..n as i64).map(|i| (i % 3 != 0).then_some(i * 7919)),
                )),
            ),
            (
                "ms",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| i as f64 / 3.0),
                )),
            ),
            (
                "ok",
                Arc::new(BooleanArray::from_iter((0..n).map(|i| Some(i % 2 == 0)))),
            ),
            (
                "category",
                Arc::new(names.into_iter().collect::<DictionaryArray<Int32Type>>()),
            ),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    /// The direct drawing is exactly Arrow's, and it steps aside where widths are
    /// not lengths.
    #[test]
    fn plain_tables_are_drawn_as_arrow_draws_them() {
        let a = batch(vec![
            Some("gemm"),
            None,
            Some(""),
            Some("a b  c"),
            Some("x"),
        ]);
        let b = batch(vec![Some("flash_attn_fwd_kernel<128>"), Some("w")]);
        let batches = [a, b];
        let ours = super::plain_table(&batches[0].schema(), &batches)
            .unwrap()
            .unwrap();
        let arrow = format!("{}\n", pretty_format_batches(&batches).unwrap());
        assert_eq!(ours, arrow);
        for odd in ["tab\there", "ünïcode", " edge", "two\nlines"] {
            let batches = [batch(vec![Some(odd)])];
            assert!(
                super::plain_table(&batches[0].schema(), &batches)
                    .unwrap()
                    .is_none(),
                "{odd:?}"
            );
        }
    }
}
