//! The passes over one input, the same for every [`Importer`]: NVTX rows, the
//! labelled steps and the module ranges (beside the importer's `prepare`), then
//! kernels ∥ memops, each attributed to a step, categorised (module first, names
//! second: [`super::categorize`]), counted and written.
//!
//! Kernels come in chunks that worker threads read, attribute, categorise and build
//! into Arrow batches in parallel ([`super::chunks`]); one consumer hands the batches
//! to the writer and absorbs their statistics in chunk order ([`map_in_order`]).
//! Chunk boundaries do not depend on the thread count, so every output, Parquet
//! bytes included, is the same at any thread count.
//! Steps are numbered in the order the importer yields NVTX rows.
//!
//! Memory: at most two windows of chunks (`2 × threads × MAX_CHUNK_ROWS` kernels)
//! are in flight. An export whose kernels are not stored in start order (nsys
//! writes them sorted; only hand-made or edited exports are not) is read again as
//! one chunk sorted by SQLite, which holds that input's kernel rows at once.

use indicatif::ProgressBar;

use super::chunks::{read_chunk, ChunkContext, ChunkDone};
use super::importer::{Importer, KernelOrder, NvtxRecord};
use super::ordered::map_in_order;
use super::rows::{append_memop, append_nvtx};
use super::sanity;
use super::stats::{KernelStats, MemopStats};
use super::steps::{StepRange, Steps};
use super::survey::Survey;
use crate::attribute::module_index::{ModuleRange, Modules};
use crate::attribute::modules::ModuleText;
use crate::attribute::{Label, Rules};
use crate::dataset::schema::{KernelsBuilder, MemopsBuilder, NvtxBuilder};
use crate::dataset::TableWriter;
use crate::error::{Error, Result};
use crate::stage_timing::{self, Busy};

/// Kernels per chunk, at most: bounds the memory of rows in flight.
const MAX_CHUNK_ROWS: i64 = 64 * 1024;

/// Chunks asked of a kernel table (fewer when that would make them tiny, more when
/// that would make them exceed [`MAX_CHUNK_ROWS`]). A constant, not the thread
/// count: chunks are the batches written, so the Parquet bytes must not depend on
/// how many threads read them.
const CHUNKS_WANTED: i64 = 64;

/// The nesting depth of CPU ranges, one thread at a time: a stack of the open
/// ranges' ends (memory: the deepest nesting). Rows come in `(thread, start, end
/// desc)` order.
#[derive(Debug, Default)]
struct Nesting {
    thread: Option<i64>,
    open_ends: Vec<i64>,
}

impl Nesting {
    /// Depth of a row starting at `start`; `range_end` is `Some` for ranges, which
    /// then enclose the rows after them until they end.
    fn depth(&mut self, thread: i64, start: i64, range_end: Option<i64>) -> i32 {
        if self.thread != Some(thread) {
            self.thread = Some(thread);
            self.open_ends.clear();
        }
        while self.open_ends.last().is_some_and(|&e| e <= start) {
            self.open_ends.pop();
        }
        let depth = self.open_ends.len() as i32;
        if let Some(end) = range_end {
            self.open_ends.push(end);
        }
        depth
    }
}

/// What the NVTX pass found besides the rows it wrote.
pub struct NvtxDone {
    /// The labelled steps (ids from `base`).
    pub steps: Steps,
    /// Rows written to the `nvtx` table.
    pub rows: u64,
    /// Closed ranges whose text names a model module ([`ModuleText`]).
    pub module_ranges: Vec<ModuleRange>,
}

/// NVTX pass: writes every row to `out` with its depth and step; returns the
/// labelled steps, the rows written and the module ranges.
pub fn nvtx(
    importer: &dyn Importer,
    mut out: TableWriter<NvtxBuilder>,
    base: i64,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<NvtxDone> {
    let mut ranges: Vec<StepRange> = Vec::new();
    let mut module_ranges: Vec<ModuleRange> = Vec::new();
    let mut nesting = Nesting::default();
    let mut seen = Survey::default();
    importer.nvtx(survey, &mut |n: NvtxRecord| {
        if let Err(reason) = sanity::interval(n.start, n.end.unwrap_or(n.start)) {
            seen.skip(&format!("NVTX range: {reason}"));
            return Ok(true);
        }
        let is_range = n.is_range();
        let depth = nesting.depth(n.thread, n.start, n.end.filter(|_| is_range));
        if let (true, Some(end), Some(text)) = (is_range, n.end, n.text.as_deref()) {
            if ModuleText::parse(text).is_some() {
                module_ranges.push(ModuleRange {
                    thread: n.thread,
                    start: n.start,
                    end,
                    text: text.to_string(),
                });
            }
        }
        let label = match (is_range, n.text.as_deref().map(Label::check)) {
            (true, Some(Ok(Some(_)))) if n.wraps_label => {
                seen.skip(
                    "step label enclosing another step label on its thread (a wrapper such as \
                     TraceLens's execute_… around SGLang's step[…]: the inner one is the step)",
                );
                None
            }
            (true, Some(Ok(label))) => label,
            (true, Some(Err(refusal))) => {
                seen.skip(refusal.reason());
                None
            }
            _ => None,
        };
        let step = match (label, n.end) {
            (Some(label), Some(end)) => {
                ranges.push(StepRange {
                    label,
                    thread: n.thread,
                    pid: n.pid,
                    tid: n.tid,
                    start: n.start,
                    end,
                });
                Some(base + ranges.len() as i64 - 1)
            }
            (Some(_), None) => {
                seen.skip("labelled NVTX range without an end (never popped), not a step");
                None
            }
            (None, _) => None,
        };
        append_nvtx(&mut out, &n, depth, step)?;
        progress.inc(1);
        Ok(true)
    })?;
    survey.merge(seen);
    let rows = out.finish()?;
    Ok(NvtxDone {
        steps: Steps::new(base, ranges),
        rows,
        module_ranges,
    })
}

/// Kernel pass: reads as stored and, when that turns out not to be in start
/// order, once more sorted. Returns the input's kernel statistics.
#[allow(clippy::too_many_arguments)]
pub fn kernels(
    importer: &dyn Importer,
    steps: &Steps,
    modules: &Modules,
    rules: &Rules,
    create: &dyn Fn() -> Result<TableWriter<KernelsBuilder>>,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<KernelStats> {
    let fallback_phase = fallback_phase(importer, steps);
    let (deciding, batching) = (Busy::default(), Busy::default());
    let timed = stage_timing::enabled();
    let cx = ChunkContext {
        importer,
        steps,
        modules,
        rules,
        fallback_phase,
        deciding: timed.then_some(&deciding),
        batching: timed.then_some(&batching),
    };
    let input = importer.path().display().to_string();
    for order in [KernelOrder::AsStored, KernelOrder::ByStart] {
        let (reading, writing) = (Busy::default(), Busy::default());
        let started = std::time::Instant::now();
        let chunks = importer.kernel_chunks(order, CHUNKS_WANTED, MAX_CHUNK_ROWS)?;
        let mut out = create()?;
        let mut stats = KernelStats::default();
        let mut pass_survey = Survey::default();
        let mut last_start = i64::MIN;
        let mut unsorted = false;
        progress.set_position(0);
        map_in_order(
            &chunks,
            |chunk| reading.time(|| read_chunk(&cx, chunk)),
            |done: ChunkDone| {
                if done.unsorted || done.first_start.is_some_and(|s| s < last_start) {
                    unsorted = true;
                    return Ok(false);
                }
                writing.time(|| {
                    last_start = done.last_start.unwrap_or(last_start);
                    stats.absorb(done.stats);
                    pass_survey.merge(done.survey);
                    let rows = done.batch.num_rows() as u64;
                    out.write_batch(done.batch)?;
                    progress.inc(rows);
                    Ok(true)
                })
            },
        )?;
        if !unsorted {
            let pass = started.elapsed();
            let encoding_tail = std::time::Instant::now();
            out.finish()?;
            stage_timing::report(
                &input,
                "kernels: read+join+attribute+batch (summed over threads)",
                reading.total(),
            );
            stage_timing::report(
                &input,
                "kernels:   of which attribute+categorise+count+append",
                deciding.total(),
            );
            stage_timing::report(
                &input,
                "kernels:   of which Arrow batch finish",
                batching.total(),
            );
            stage_timing::report(
                &input,
                "kernels: in-order hand-off to the writer",
                writing.total(),
            );
            stage_timing::report(&input, "kernels: pass wall time", pass);
            stage_timing::report(
                &input,
                "kernels: Parquet encode tail after the pass",
                encoding_tail.elapsed(),
            );
            survey.merge(pass_survey);
            stats.module_ranges = modules.len() as u64;
            return Ok(stats);
        }
    }
    // The importer's own sort broke its contract: a bug, not the input's fault.
    Err(Error::Parquet {
        path: importer.path().to_path_buf(),
        reason: "kernels read sorted by start came back out of order".into(),
    })
}

/// Memop pass: writes every memop; returns memop counts per step and rows written.
pub fn memops(
    importer: &dyn Importer,
    steps: &Steps,
    mut out: TableWriter<MemopsBuilder>,
    survey: &mut Survey,
    progress: &ProgressBar,
) -> Result<(MemopStats, u64)> {
    let fallback_phase = fallback_phase(importer, steps);
    let mut per_step = MemopStats::new();
    let mut seen = Survey::default();
    importer.memops(survey, &mut |m| {
        if let Err(reason) = sanity::interval(m.start, m.end) {
            seen.skip(&format!("memop: {reason}"));
            return Ok(true);
        }
        let step = m
            .launch
            .as_ref()
            .and_then(|l| l.thread.zip(l.start))
            .and_then(|(thread, t)| steps.lookup(thread, t));
        if let Some(step) = step {
            *per_step.entry(step).or_default() += 1;
        }
        append_memop(&mut out, &m, step, steps, fallback_phase)?;
        progress.inc(1);
        Ok(true)
    })?;
    survey.merge(seen);
    Ok((per_step, out.finish()?))
}

/// The phase of every unlabelled row of an input without step labels (an importer
/// may know one for the whole input), else none.
pub fn fallback_phase(importer: &dyn Importer, steps: &Steps) -> Option<&'static str> {
    steps
        .ranges
        .is_empty()
        .then(|| importer.fallback_phase())
        .flatten()
}
