//! The numbers behind every section of the page, read from the dataset with SQL and
//! nothing else: per-shape category breakdowns, MFU/MBU, overlap and idle per device,
//! per-rank skew, top and unattributed kernels, and the run facts.
//!
//! Invariants: a figure "per step" is summed kernel time over the shape's labelled
//! steps divided by their count (`count(DISTINCT step)`, a step being one process's
//! forward, as in `queries/categories-by-shape.sql`); shapes are ordered prefill
//! first, then by bsz and seq; categories keep the order of [`crate::vocab::CATEGORIES`].

use crate::error::Result;
use crate::query::internal::Param::{Int, Text};
use crate::query::reader::{Reader, Rows};
use crate::vocab::category_rank;
use crate::vocab::CategoryAxis;
use crate::vocab::Shape;

/// GPU time per step of one shape, by category.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShapeBreakdown {
    pub shape: Shape,
    pub steps: i64,
    pub total_ms: f64,
    /// (category, ms per step), in [`crate::vocab::CATEGORIES`] order, categories with time only.
    pub categories: Vec<(String, f64)>,
}

/// MFU / MBU of one shape (from `queries/mfu.sql`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Utilization {
    pub shape: Shape,
    pub ms: f64,
    pub time_source: String,
    pub mfu_pct: Option<f64>,
    pub mbu_pct: Option<f64>,
}

/// Communication and idle time of one device in one phase, per step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceTime {
    pub device: i64,
    pub phase: String,
    pub steps: i64,
    pub busy_ms: f64,
    pub idle_ms: f64,
    pub comm_hidden_ms: f64,
    pub comm_exposed_ms: f64,
}

/// Mean GPU busy time per step of each device for one shape (multi-device runs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RankSkew {
    pub shape: Shape,
    /// (device, mean busy ms per step).
    pub devices: Vec<(i64, f64)>,
    /// (slowest - fastest) / slowest, in %.
    pub skew_pct: f64,
}

/// One row of the top-kernels or unattributed table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KernelRow {
    pub name: String,
    pub category: String,
    pub calls: i64,
    pub total_ms: f64,
    pub pct: f64,
}

/// Everything the page shows about one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunData {
    pub run: String,
    /// Which category the breakdown and the kernel tables group by.
    pub by: CategoryAxis,
    /// (fact, value) of the `runs` table, non-empty values only.
    pub facts: Vec<(String, String)>,
    pub shapes: Vec<ShapeBreakdown>,
    pub utilization: Vec<Utilization>,
    pub devices: Vec<DeviceTime>,
    pub skew: Vec<RankSkew>,
    pub top_kernels: Vec<KernelRow>,
    pub unattributed: Vec<KernelRow>,
    /// (`category_source`, % of the run's GPU time), largest first.
    pub evidence: Vec<(String, f64)>,
    pub timelines: Vec<super::timeline::Timeline>,
}

const FACTS: &[&str] = &[
    "gpu",
    "gpus",
    "host_gpus",
    "nsys_version",
    "source_format",
    "source_files",
    "model",
    "mconf",
    "deploy",
    "backend",
    "engine",
    "sglang_version",
    "cuda_driver_version",
    "cuda_graph_trace",
    "kernels",
    "labelled_kernels",
    "steps",
    "ranks",
    "trace_version",
];

/// The run's facts, in [`FACTS`] order; columns this dataset lacks are skipped.
pub fn facts(ds: &Reader, run: &str) -> Result<Vec<(String, String)>> {
    let rows = ds.ask("report/facts", &[("run", Text(run))])?;
    let mut out = Vec::new();
    for fact in FACTS {
        if let Ok(values) = rows.strings(fact) {
            if let Some(Some(v)) = values.into_iter().next() {
                if !v.is_empty() {
                    out.push((fact.to_string(), v));
                }
            }
        }
    }
    Ok(out)
}

/// Per-shape GPU ms per step by category.
pub fn shapes(ds: &Reader, run: &str, by: CategoryAxis) -> Result<Vec<ShapeBreakdown>> {
    let rows = ds.ask(
        "report/categories-by-shape",
        &[("run", Text(run)), ("by", Text(by.as_str()))],
    )?;
    let (phase, bsz, seq) = (
        rows.strings_or_empty("phase")?,
        rows.i64s_or_zero("bsz")?,
        rows.i64s("seq")?,
    );
    let (steps, category, ns) = (
        rows.i64s_or_zero("steps")?,
        rows.strings_or_empty("category")?,
        rows.f64s_or_zero("ns")?,
    );
    let mut by_shape: std::collections::BTreeMap<Shape, ShapeBreakdown> = Default::default();
    for i in 0..rows.len() {
        let shape = Shape {
            phase: phase[i].clone(),
            bsz: bsz[i],
            seq: seq[i],
        };
        let entry = by_shape
            .entry(shape.clone())
            .or_insert_with(|| ShapeBreakdown {
                shape,
                steps: steps[i],
                total_ms: 0.0,
                categories: Vec::new(),
            });
        let ms = ns[i] / 1e6 / steps[i].max(1) as f64;
        entry.total_ms += ms;
        entry.categories.push((category[i].clone(), ms));
    }
    let mut out: Vec<ShapeBreakdown> = by_shape.into_values().collect();
    for s in &mut out {
        s.categories.sort_by_key(|(c, _)| category_rank(c));
    }
    out.sort_by_key(|s| s.shape.sort_key());
    Ok(out)
}

/// MFU / MBU per shape where `model_flops` has rows for the run.
pub fn utilization(ds: &Reader, run: &str) -> Result<Vec<Utilization>> {
    let rows = ds.ask("report/utilization", &[("run", Text(run))])?;
    let (phase, bsz, seq) = (
        rows.strings_or_empty("phase")?,
        rows.i64s_or_zero("bsz")?,
        rows.i64s("seq")?,
    );
    let (ms, source, mfu, mbu) = (
        rows.f64s_or_zero("ms")?,
        rows.strings_or_empty("time_source")?,
        rows.f64s("mfu_pct")?,
        rows.f64s("mbu_pct")?,
    );
    let mut out: Vec<Utilization> = (0..rows.len())
        .map(|i| Utilization {
            shape: Shape {
                phase: phase[i].clone(),
                bsz: bsz[i],
                seq: seq[i],
            },
            ms: ms[i],
            time_source: source[i].clone(),
            mfu_pct: mfu[i],
            mbu_pct: mbu[i],
        })
        .collect();
    out.sort_by_key(|u| u.shape.sort_key());
    Ok(out)
}

/// Busy, idle and communication time per step, per device and phase.
pub fn devices(ds: &Reader, run: &str) -> Result<Vec<DeviceTime>> {
    let rows = ds.ask("report/devices", &[("run", Text(run))])?;
    let (device, phase, steps) = (
        rows.i64s_or_zero("device")?,
        rows.strings_or_empty("phase")?,
        rows.i64s_or_zero("steps")?,
    );
    let (busy, idle, hidden, exposed) = (
        rows.f64s_or_zero("busy_ms")?,
        rows.f64s_or_zero("idle_ms")?,
        rows.f64s_or_zero("hidden_ms")?,
        rows.f64s_or_zero("exposed_ms")?,
    );
    Ok((0..rows.len())
        .map(|i| DeviceTime {
            device: device[i],
            phase: phase[i].clone(),
            steps: steps[i],
            busy_ms: busy[i],
            idle_ms: idle[i],
            comm_hidden_ms: hidden[i],
            comm_exposed_ms: exposed[i],
        })
        .collect())
}

/// Per shape, mean busy ms per step of each device; empty for one-device runs.
pub fn skew(ds: &Reader, run: &str) -> Result<Vec<RankSkew>> {
    let rows = ds.ask("report/skew", &[("run", Text(run))])?;
    let (phase, bsz, seq) = (
        rows.strings_or_empty("phase")?,
        rows.i64s_or_zero("bsz")?,
        rows.i64s("seq")?,
    );
    let (device, busy) = (rows.i64s_or_zero("device")?, rows.f64s_or_zero("busy_ms")?);
    let mut by_shape: std::collections::BTreeMap<Shape, Vec<(i64, f64)>> = Default::default();
    for i in 0..rows.len() {
        let shape = Shape {
            phase: phase[i].clone(),
            bsz: bsz[i],
            seq: seq[i],
        };
        by_shape
            .entry(shape)
            .or_default()
            .push((device[i], busy[i]));
    }
    let mut out: Vec<RankSkew> = by_shape
        .into_iter()
        .filter(|(_, d)| d.len() > 1)
        .map(|(shape, mut devices)| {
            devices.sort_by_key(|d| d.0);
            let max = devices.iter().map(|d| d.1).fold(f64::MIN, f64::max);
            let min = devices.iter().map(|d| d.1).fold(f64::MAX, f64::min);
            let skew_pct = if max > 0.0 {
                100.0 * (max - min) / max
            } else {
                0.0
            };
            RankSkew {
                shape,
                devices,
                skew_pct,
            }
        })
        .collect();
    out.sort_by_key(|s| s.shape.sort_key());
    Ok(out)
}

/// Where the run's categories came from: each `category_source`'s share of GPU
/// time (as `queries/coverage.sql` counts it, over all kernels).
pub fn evidence(ds: &Reader, run: &str) -> Result<Vec<(String, f64)>> {
    let rows = ds.ask("report/evidence", &[("run", Text(run))])?;
    let (source, pct) = (
        rows.strings_or_empty("category_source")?,
        rows.f64s_or_zero("pct")?,
    );
    Ok(source.into_iter().zip(pct).collect())
}

/// The `limit` kernels with the most GPU time (all phases), with their category
/// on the `by` axis.
pub fn top_kernels(
    ds: &Reader,
    run: &str,
    by: CategoryAxis,
    limit: usize,
) -> Result<Vec<KernelRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = ds.ask(
        "report/top-kernels",
        &[
            ("run", Text(run)),
            ("limit", Int(limit)),
            ("by", Text(by.as_str())),
        ],
    )?;
    kernel_rows(&rows)
}

/// The `limit` kernels with the most GPU time that no evidence placed (`other`).
pub fn unattributed_kernels(ds: &Reader, run: &str, limit: usize) -> Result<Vec<KernelRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = ds.ask(
        "report/unattributed-kernels",
        &[("run", Text(run)), ("limit", Int(limit))],
    )?;
    kernel_rows(&rows)
}

fn kernel_rows(rows: &Rows) -> Result<Vec<KernelRow>> {
    let (name, category, calls) = (
        rows.strings_or_empty("name")?,
        rows.strings_or_empty("category")?,
        rows.i64s_or_zero("calls")?,
    );
    let (total, pct) = (rows.f64s_or_zero("total_ms")?, rows.f64s_or_zero("pct")?);
    Ok((0..rows.len())
        .map(|i| KernelRow {
            name: name[i].clone(),
            category: category[i].clone(),
            calls: calls[i],
            total_ms: total[i],
            pct: pct[i],
        })
        .collect())
}
