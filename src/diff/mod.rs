//! `trace diff`: compare two runs per (phase, bsz, seq) and category, and per kernel
//! name, with a noise estimate from the per-step spread, and decide whether the new
//! run regressed beyond a gate.
//!
//! Invariants: only the dataset is read (through [`crate::query::reader`]); a row's
//! figures are GPU ms per step (the shape's summed kernel time over its labelled steps,
//! as `categories-by-shape`); a total or category row (kernel rows inform, never
//! gate) is a regression only when all three hold — its %
//! change exceeds the gate, the bootstrap interval of the difference (resampling
//! iterations: one sample per iteration, averaged over its ranks' steps) lies above
//! zero ([`noise`]), and the difference is at least the floor. Runs of different models,
//! deployments, device counts or grids are refused ([`Error::Usage`]), never compared.

pub mod noise;
pub mod output;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::query::internal::Param::Text;
use crate::query::reader::Reader;
use crate::vocab::category_rank;
use crate::vocab::Shape;

/// What `trace diff` compares and how strictly.
#[derive(Debug, Clone)]
pub struct DiffConfig {
    pub data_dir: PathBuf,
    pub base: String,
    pub new: String,
    /// % slower a row must be to count as a regression.
    pub gate_pct: f64,
    /// ms per step a row must grow by to count (below it, changes are ignored).
    pub floor_ms: f64,
}

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// All kernels of the shape.
    Total,
    Category,
    Kernel,
}

/// How a row changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Within noise, the gate or the floor.
    Same,
    /// Faster beyond noise.
    Faster,
    /// Slower beyond noise but within the gate or the floor.
    Slower,
    /// Slower beyond noise, the gate and the floor.
    Regression,
}

/// One compared (shape, category or kernel).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiffRow {
    pub shape: Shape,
    pub kind: RowKind,
    /// Category or kernel name; `total` for [`RowKind::Total`].
    pub key: String,
    pub base_ms: f64,
    pub new_ms: f64,
    pub delta_ms: f64,
    /// `None` when the base is 0.
    pub pct: Option<f64>,
    /// 95% bootstrap interval of the difference, ms per step.
    pub ci_low_ms: f64,
    pub ci_high_ms: f64,
    pub base_steps: usize,
    pub new_steps: usize,
    pub change: Change,
}

/// The result of a comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    pub base: String,
    pub new: String,
    pub gate_pct: f64,
    pub floor_ms: f64,
    pub rows: Vec<DiffRow>,
}

impl Comparison {
    /// The rows that fail the gate.
    pub fn regressions(&self) -> impl Iterator<Item = &DiffRow> {
        self.rows.iter().filter(|r| r.change == Change::Regression)
    }
}

/// Per-step values of one run: shape → step → its sampling unit, and
/// (shape, kind, key) → step → ns (integers, so sums do not depend on the order the
/// query returns rows in). The unit is the iteration (all ranks' steps of one
/// iteration form one sample), or the step itself when the label has no `iter`.
#[derive(Default)]
struct Samples {
    steps: BTreeMap<Shape, BTreeMap<i64, Unit>>,
    values: BTreeMap<(Shape, RowKind, String), BTreeMap<i64, i64>>,
}

/// A sampling unit: `(false, iter)` or `(true, step)` for steps without `iter`.
type Unit = (bool, i64);

impl Samples {
    /// The shape's mean ms per step for `key`, and one mean per sampling unit.
    fn per_unit(&self, key: &(Shape, RowKind, String)) -> (f64, usize, Vec<f64>) {
        let values = self.values.get(key);
        let Some(steps) = self.steps.get(&key.0) else {
            return (0.0, 0, Vec::new());
        };
        let mut units: BTreeMap<Unit, (i64, i64)> = BTreeMap::new();
        let mut total = 0i64;
        for (step, unit) in steps {
            let ns = values.and_then(|v| v.get(step)).copied().unwrap_or(0);
            total += ns;
            let u = units.entry(*unit).or_default();
            u.0 += ns;
            u.1 += 1;
        }
        let samples = units
            .values()
            .map(|(ns, n)| *ns as f64 / 1e6 / *n as f64)
            .collect();
        (
            total as f64 / 1e6 / steps.len() as f64,
            steps.len(),
            samples,
        )
    }
}

fn load(ds: &Reader, base: &str, new: &str) -> Result<BTreeMap<String, Samples>> {
    let mut out: BTreeMap<String, Samples> = [base, new]
        .iter()
        .map(|r| (r.to_string(), Samples::default()))
        .collect();
    for (kind, question) in [
        (RowKind::Category, "diff/samples-by-category"),
        (RowKind::Kernel, "diff/samples-by-name"),
    ] {
        let rows = ds.ask(question, &[("base", Text(base)), ("new", Text(new))])?;
        let (run, phase, bsz) = (
            rows.strings_or_empty("run")?,
            rows.strings_or_empty("phase")?,
            rows.i64s_or_zero("bsz")?,
        );
        let iter = rows.i64s("iter")?;
        let (seq, step, key, ns) = (
            rows.i64s("seq")?,
            rows.i64s_or_zero("step")?,
            rows.strings_or_empty("key")?,
            rows.i64s_or_zero("ns")?,
        );
        for i in 0..rows.len() {
            let Some(samples) = out.get_mut(&run[i]) else {
                continue;
            };
            let shape = Shape {
                phase: phase[i].clone(),
                bsz: bsz[i],
                seq: seq[i],
            };
            let ns = ns[i];
            let unit = iter[i].map_or((true, step[i]), |it| (false, it));
            samples
                .steps
                .entry(shape.clone())
                .or_default()
                .insert(step[i], unit);
            if kind == RowKind::Category {
                *samples
                    .values
                    .entry((shape.clone(), RowKind::Total, "total".into()))
                    .or_default()
                    .entry(step[i])
                    .or_default() += ns;
            }
            *samples
                .values
                .entry((shape, kind, key[i].clone()))
                .or_default()
                .entry(step[i])
                .or_default() += ns;
        }
    }
    Ok(out)
}

/// Refuses runs that cannot be compared; the message says why.
fn check_comparable(
    ds: &Reader,
    base: &str,
    new: &str,
    samples: &BTreeMap<String, Samples>,
) -> Result<()> {
    let rows = ds.ask(
        "diff/run-facts",
        &[("base", Text(base)), ("new", Text(new))],
    )?;
    let names = rows.strings_or_empty("run")?;
    for run in [base, new] {
        if !names.iter().any(|n| n == run) {
            let all = ds.ask("report/run-ids", &[])?;
            return Err(Error::Usage(format!(
                "no run {run:?} in the dataset; runs: {}",
                all.strings_or_empty("run")?.join(", ")
            )));
        }
    }
    let fact = |column: &str| -> Result<(String, String)> {
        let values = rows.strings_or_empty(column).unwrap_or_default();
        let of = |run: &str| {
            names
                .iter()
                .position(|n| n == run)
                .and_then(|i| values.get(i).cloned())
                .unwrap_or_default()
        };
        Ok((of(base), of(new)))
    };
    for column in ["model", "mconf", "deploy", "gpus"] {
        let (a, b) = fact(column)?;
        if !a.is_empty() && !b.is_empty() && a != b {
            return Err(Error::Usage(format!(
                "runs {base:?} and {new:?} cannot be compared: different {column} ({a} vs {b})"
            )));
        }
    }
    let shapes = |run: &str| -> BTreeSet<Shape> {
        samples
            .get(run)
            .map(|s| s.steps.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (a, b) = (shapes(base), shapes(new));
    if a.is_empty() || b.is_empty() {
        let empty = if a.is_empty() { base } else { new };
        return Err(Error::Usage(format!(
            "runs {base:?} and {new:?} cannot be compared: {empty:?} has no labelled steps"
        )));
    }
    if a != b {
        let list = |s: Vec<&Shape>| {
            s.iter()
                .take(5)
                .map(|x| x.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::Usage(format!(
            "runs {base:?} and {new:?} cannot be compared: different grids (only in {base}: [{}]; only in {new}: [{}])",
            list(a.difference(&b).collect()),
            list(b.difference(&a).collect())
        )));
    }
    Ok(())
}

/// Compares `config.new` against `config.base`.
pub fn compare(ds: &Reader, config: &DiffConfig) -> Result<Comparison> {
    if !(config.gate_pct.is_finite() && config.gate_pct >= 0.0) {
        return Err(Error::Usage(format!(
            "--gate must be a percentage ≥ 0, got {}",
            config.gate_pct
        )));
    }
    let samples = load(ds, &config.base, &config.new)?;
    check_comparable(ds, &config.base, &config.new, &samples)?;
    let empty = Samples::default();
    let (base, new) = (
        samples.get(&config.base).unwrap_or(&empty),
        samples.get(&config.new).unwrap_or(&empty),
    );
    let keys: BTreeSet<&(Shape, RowKind, String)> =
        base.values.keys().chain(new.values.keys()).collect();
    let mut rows = Vec::new();
    for key in keys {
        rows.push(row(config, key, base.per_unit(key), new.per_unit(key)));
    }
    rows.sort_by(|x, y| {
        (x.shape.sort_key(), x.kind, category_rank(&x.key))
            .cmp(&(y.shape.sort_key(), y.kind, category_rank(&y.key)))
            .then(y.base_ms.total_cmp(&x.base_ms))
    });
    Ok(Comparison {
        base: config.base.clone(),
        new: config.new.clone(),
        gate_pct: config.gate_pct,
        floor_ms: config.floor_ms,
        rows,
    })
}

fn row(
    config: &DiffConfig,
    key: &(Shape, RowKind, String),
    (base_ms, base_steps, base): (f64, usize, Vec<f64>),
    (new_ms, new_steps, new): (f64, usize, Vec<f64>),
) -> DiffRow {
    let delta_ms = new_ms - base_ms;
    let pct = (base_ms > 0.0).then(|| 100.0 * delta_ms / base_ms);
    let seed = noise::seed_of(&format!("{}|{:?}|{}", key.0.label(), key.1, key.2));
    let (ci_low_ms, ci_high_ms) = noise::mean_difference_interval(&base, &new, seed);
    let change = if ci_low_ms > 0.0 {
        let beyond_gate = pct.is_none_or(|p| p > config.gate_pct);
        // Kernel rows inform but do not gate: a library picking another kernel for the
        // same work moves time between names while the category stays put.
        if beyond_gate && delta_ms >= config.floor_ms && key.1 != RowKind::Kernel {
            Change::Regression
        } else {
            Change::Slower
        }
    } else if ci_high_ms < 0.0 {
        Change::Faster
    } else {
        Change::Same
    };
    DiffRow {
        shape: key.0.clone(),
        kind: key.1,
        key: key.2.clone(),
        base_ms,
        new_ms,
        delta_ms,
        pct,
        ci_low_ms,
        ci_high_ms,
        base_steps,
        new_steps,
        change,
    }
}

/// Opens the dataset and compares (the CLI path).
pub fn run(config: &DiffConfig) -> Result<Comparison> {
    let ds = Reader::open(&config.data_dir)?;
    compare(&ds, config)
}
