//! Writing a [`Comparison`]: an aligned table or CSV (through the query formatter, so
//! `trace diff` looks like `trace query`), or JSON (the whole comparison with its
//! verdict), and the one-paragraph verdict itself.
//!
//! Invariants: the table shows every total and category row and only the kernel rows
//! that changed beyond noise (CSV and JSON carry every row); numbers are ms per step
//! rounded to 4 decimals, % to 1.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use super::{Change, Comparison, DiffRow, RowKind};
use crate::error::{Error, Result};
use crate::query::format::{self, OutputFormat};

/// Output format of `trace diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Table,
    Json,
    Csv,
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn to_str<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The rows as one Arrow batch.
pub fn to_batch(rows: &[&DiffRow]) -> Result<RecordBatch> {
    let strings = |f: &dyn Fn(&DiffRow) -> String| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter().map(|r| f(r)).collect::<Vec<_>>(),
        ))
    };
    let ints = |f: &dyn Fn(&DiffRow) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from(
            rows.iter().map(|r| f(r)).collect::<Vec<_>>(),
        ))
    };
    let floats = |f: &dyn Fn(&DiffRow) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(
            rows.iter().map(|r| f(r)).collect::<Vec<_>>(),
        ))
    };
    let optional_ints = |f: &dyn Fn(&DiffRow) -> Option<i64>| -> ArrayRef {
        Arc::new(Int64Array::from(
            rows.iter().map(|r| f(r)).collect::<Vec<_>>(),
        ))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("phase", strings(&|r| r.shape.phase.clone())),
        ("bsz", ints(&|r| r.shape.bsz)),
        ("seq", optional_ints(&|r| r.shape.seq)),
        ("kind", strings(&|r| to_str(&r.kind))),
        ("key", strings(&|r| r.key.clone())),
        ("base_ms", floats(&|r| Some(round(r.base_ms, 4)))),
        ("new_ms", floats(&|r| Some(round(r.new_ms, 4)))),
        ("delta_ms", floats(&|r| Some(round(r.delta_ms, 4)))),
        ("pct", floats(&|r| r.pct.map(|p| round(p, 1)))),
        ("ci_low_ms", floats(&|r| Some(round(r.ci_low_ms, 4)))),
        ("ci_high_ms", floats(&|r| Some(round(r.ci_high_ms, 4)))),
        (
            "steps",
            strings(&|r| format!("{}/{}", r.base_steps, r.new_steps)),
        ),
        ("change", strings(&|r| to_str(&r.change))),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| {
                let nullable = array.data_type() == &DataType::Float64;
                Field::new(*name, array.data_type().clone(), nullable)
            })
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(schema, columns.into_iter().map(|(_, a)| a).collect()).map_err(|e| {
        Error::Query {
            context: "diff: building the result".into(),
            reason: e.to_string(),
        }
    })
}

/// The verdict: what regressed (shape, category or kernel, by how much), or that
/// nothing did.
pub fn verdict(c: &Comparison) -> String {
    let regressions: Vec<&DiffRow> = c.regressions().collect();
    if regressions.is_empty() {
        let faster = c
            .rows
            .iter()
            .filter(|r| r.kind != RowKind::Kernel && r.change == Change::Faster)
            .count();
        return format!(
            "no regression beyond the {}% gate: {} vs {} ({} rows compared, {} shape/category rows faster beyond noise)",
            c.gate_pct,
            c.new,
            c.base,
            c.rows.len(),
            faster
        );
    }
    let mut lines = vec![format!(
        "REGRESSION: {} is slower than {} beyond the {}% gate and the noise in {} rows:",
        c.new,
        c.base,
        c.gate_pct,
        regressions.len()
    )];
    for r in regressions
        .iter()
        .filter(|r| r.kind != RowKind::Kernel)
        .take(20)
    {
        lines.push(describe(r));
    }
    for r in regressions
        .iter()
        .filter(|r| r.kind == RowKind::Kernel)
        .take(10)
    {
        lines.push(describe(r));
    }
    lines.join("\n")
}

fn describe(r: &DiffRow) -> String {
    format!(
        "  {} {} {}: {:.4} → {:.4} ms/step ({}, 95% CI of Δ [{:+.4}, {:+.4}] ms)",
        r.shape.label(),
        to_str(&r.kind),
        r.key,
        r.base_ms,
        r.new_ms,
        r.pct.map_or("new".to_string(), |p| format!("{p:+.1}%")),
        r.ci_low_ms,
        r.ci_high_ms
    )
}

/// Writes the comparison in `format` to `out`; the verdict goes to `out` for the
/// table and to `err` for CSV and JSON (JSON also carries it as `regression`).
pub fn write(
    c: &Comparison,
    fmt: DiffFormat,
    out: &mut (dyn Write + Send),
    err: &mut dyn Write,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("<output>", e);
    match fmt {
        DiffFormat::Json => {
            let value = serde_json::json!({
                "regression": c.regressions().next().is_some(),
                "verdict": verdict(c),
                "comparison": c,
            });
            serde_json::to_writer_pretty(&mut *out, &value).map_err(|e| Error::Query {
                context: "diff: writing JSON".into(),
                reason: e.to_string(),
            })?;
            writeln!(out).map_err(io)?;
            writeln!(err, "{}", verdict(c)).map_err(io)?;
        }
        DiffFormat::Csv => {
            let rows: Vec<&DiffRow> = c.rows.iter().collect();
            let batch = to_batch(&rows)?;
            format::write(OutputFormat::Csv, &batch.schema(), &[batch], out)?;
            writeln!(err, "{}", verdict(c)).map_err(io)?;
        }
        DiffFormat::Table => {
            let rows: Vec<&DiffRow> = c
                .rows
                .iter()
                .filter(|r| r.kind != RowKind::Kernel || r.change != Change::Same)
                .collect();
            let batch = to_batch(&rows)?;
            format::write(OutputFormat::Table, &batch.schema(), &[batch], out)?;
            writeln!(out, "{}", verdict(c)).map_err(io)?;
        }
    }
    Ok(())
}
