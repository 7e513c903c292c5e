//! The short report `trace ingest` prints: kernels, labelled share, GPU time by
//! category, unlabelled count, skipped rows by reason, warnings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::survey::Survey;
use crate::vocab::Shape;
use crate::vocab::CATEGORIES;

/// What an ingest wrote.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub run_id: String,
    pub out_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub kernels: u64,
    pub labelled: u64,
    pub kernel_ns: i64,
    pub labelled_ns: i64,
    /// Category → (count, summed ns).
    pub by_category: BTreeMap<&'static str, (u64, i64)>,
    /// `category_source` → (count, summed ns).
    pub by_source: BTreeMap<&'static str, (u64, i64)>,
    /// Graph kernels categorised by name instead of module, by reason.
    pub fallbacks: BTreeMap<&'static str, u64>,
    /// Module ranges in the inputs.
    pub module_ranges: u64,
    pub steps: u64,
    pub memops: u64,
    pub nvtx: u64,
    pub survey: Survey,
    pub elapsed: Duration,
    /// Per (phase, bsz, seq): labelled steps, and how many of them ran no kernel.
    pub shapes: BTreeMap<Shape, ShapeCount>,
}

/// Steps of one shape.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShapeCount {
    pub steps: u64,
    pub steps_without_kernels: u64,
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "run {}: {} file(s) in {:.2} s → {}",
            self.run_id,
            self.files.len(),
            self.elapsed.as_secs_f64(),
            self.out_dir.display()
        )?;
        let unlabelled = self.kernels - self.labelled;
        writeln!(
            f,
            "  kernels   {:>10}  ({:.3} ms GPU time, summed)",
            self.kernels,
            ms(self.kernel_ns)
        )?;
        writeln!(
            f,
            "  labelled  {:>10}  ({:.1}% of kernels, {:.1}% of GPU time) in {} steps",
            self.labelled,
            pct(self.labelled as f64, self.kernels as f64),
            pct(self.labelled_ns as f64, self.kernel_ns as f64),
            self.steps
        )?;
        writeln!(
            f,
            "  unlabelled {:>9}  (null phase: warm-up, init, graph capture)",
            unlabelled
        )?;
        writeln!(
            f,
            "  memops    {:>10}   nvtx rows {}",
            self.memops, self.nvtx
        )?;
        if !self.by_category.is_empty() {
            writeln!(f, "  GPU time by category:")?;
            for category in CATEGORIES {
                if let Some((n, ns)) = self.by_category.get(category) {
                    writeln!(
                        f,
                        "    {category:<14} {:>12.3} ms {:>6.1}%  {n:>9} kernels",
                        ms(*ns),
                        pct(*ns as f64, self.kernel_ns as f64)
                    )?;
                }
            }
        }
        if self.kernels > 0 {
            let share = |source: &str| {
                pct(
                    self.by_source.get(source).map_or(0, |e| e.1) as f64,
                    self.kernel_ns as f64,
                )
            };
            write!(
                f,
                "  category from module {:.1}%, name {:.1}%, none {:.1}% of GPU time",
                share("module"),
                share("name"),
                share("none")
            )?;
            if self.module_ranges == 0 {
                writeln!(f, " (no module ranges in the input: names only)")?;
            } else {
                writeln!(f, " ({} module ranges)", self.module_ranges)?;
            }
        }
        for (reason, n) in &self.fallbacks {
            writeln!(f, "  {n} {reason}")?;
        }
        for (reason, n) in &self.survey.skipped {
            writeln!(f, "  skipped {n}: {reason}")?;
        }
        for warning in &self.survey.warnings {
            writeln!(f, "  warning: {warning}")?;
        }
        Ok(())
    }
}
