//! One chunk of a kernel pass, on a worker thread: the importer's records for a
//! rowid range, each attributed to a step, categorised (module first, names
//! second: [`super::categorize`]), counted into the chunk's [`ChunkStats`] and
//! appended to the chunk's own Arrow batch.
//!
//! Invariant: a chunk's output depends only on the chunk and the shared, read-only
//! context (steps, modules, rules), never on the thread that read it or on other
//! chunks, so the pass can absorb chunks in order and write identical bytes at any
//! thread count.

use datafusion::arrow::record_batch::RecordBatch;

use super::categorize::{categorize, LaunchSite};
use super::importer::{Chunk, Importer, KernelRecord};
use super::rows::{append_kernel, KernelRow};
use super::sanity;
use super::stats::{ChunkStats, SummaryKey};
use super::steps::Steps;
use super::survey::Survey;
use crate::attribute::module_index::Modules;
use crate::attribute::rules::CategoryCache;
use crate::attribute::Rules;
use crate::dataset::schema::{KernelsBuilder, TableBuilder};
use crate::error::{Error, Result};
use crate::stage_timing::Busy;
use crate::vocab::OTHER;

/// One chunk of kernels, read, attributed, categorised and built into a batch.
pub struct ChunkDone {
    pub batch: RecordBatch,
    pub stats: ChunkStats,
    pub survey: Survey,
    /// Start of the first and last kernel kept.
    pub first_start: Option<i64>,
    pub last_start: Option<i64>,
    /// A kernel started before the one before it (only when read as stored).
    pub unsorted: bool,
}

/// What every chunk reader of one kernel pass shares.
pub struct ChunkContext<'a> {
    pub importer: &'a dyn Importer,
    pub steps: &'a Steps,
    pub modules: &'a Modules,
    pub rules: &'a Rules,
    pub fallback_phase: Option<&'a str>,
    /// With `TRACE_TIMING`: time spent on a read kernel (attribute, categorise,
    /// count, append), and building the chunk's batch; the rest of reading is the
    /// importer producing records.
    pub deciding: Option<&'a Busy>,
    pub batching: Option<&'a Busy>,
}

pub fn read_chunk(cx: &ChunkContext, chunk: &Chunk) -> Result<ChunkDone> {
    let ChunkContext {
        importer,
        deciding,
        batching,
        ..
    } = *cx;
    let mut survey = Survey::default();
    let mut seen = Survey::default();
    let mut categories = CategoryCache::default();
    let mut builder = KernelsBuilder::default();
    let mut done = ChunkDone {
        batch: RecordBatch::new_empty(KernelsBuilder::schema()),
        stats: ChunkStats::default(),
        survey: Survey::default(),
        first_start: None,
        last_start: None,
        unsorted: false,
    };
    importer.kernels(chunk, &mut survey, &mut |k| {
        let started = deciding.map(|_| std::time::Instant::now());
        let kept = decide_one(&k, &mut done, &mut builder, &mut categories, &mut seen, cx)?;
        if let (Some(busy), Some(started)) = (deciding, started) {
            busy.add(started.elapsed());
        }
        Ok(kept)
    })?;
    survey.merge(seen);
    done.survey = survey;
    let batch = match batching {
        Some(busy) => busy.time(|| builder.finish()),
        None => builder.finish(),
    };
    done.batch = batch.map_err(|e| Error::Parquet {
        path: importer.path().to_path_buf(),
        reason: format!("building a batch of kernel rows: {e}"),
    })?;
    Ok(done)
}

/// Attributes, categorises, counts and appends one kernel; `Ok(false)` stops the
/// chunk (read as stored, it turned out unsorted).
fn decide_one(
    k: &KernelRecord,
    done: &mut ChunkDone,
    builder: &mut KernelsBuilder,
    categories: &mut CategoryCache,
    seen: &mut Survey,
    cx: &ChunkContext,
) -> Result<bool> {
    let ChunkContext {
        steps,
        modules,
        rules,
        fallback_phase,
        ..
    } = *cx;
    {
        if let Err(reason) = sanity::interval(k.start, k.end) {
            seen.skip(&format!("kernel: {reason}"));
            return Ok(true);
        }
        if done.last_start.is_some_and(|last| k.start < last) {
            done.unsorted = true;
            return Ok(false);
        }
        done.first_start.get_or_insert(k.start);
        done.last_start = Some(k.start);
        let by_name = categories.get(rules, k.name_key, || {
            Ok((k.name.to_string(), k.demangled.to_string()))
        })?;
        let launched = k.launch.as_ref().and_then(|l| l.thread.zip(l.start));
        let step = launched.and_then(|(thread, t)| steps.lookup(thread, t));
        // A graph node's module is the one open at its capture, never the one
        // open at the replay's cudaGraphLaunch.
        let site = match (k.from_graph, launched) {
            (true, _) => LaunchSite::Graph {
                node: k.graph_node(),
                launcher: launched.map(|(thread, _)| thread),
            },
            (false, Some((thread, t))) => LaunchSite::Live { thread, t },
            (false, None) => LaunchSite::Unknown,
        };
        let categorized = categorize(modules, site, by_name, &mut done.stats.fallbacks);
        let category = categorized.category;
        let dur = k.end - k.start;
        if let Some(step) = step {
            done.stats
                .record_step(step, k.device, (k.start, k.end), category, k.from_graph);
        }
        if category == OTHER {
            done.stats.record_other(&k.name, dur);
        }
        let key = SummaryKey {
            step,
            device: k.device,
            category,
            name_category: categorized.by_name,
            source: categorized.source.as_str(),
            graph: k.from_graph,
        };
        let in_module = categorized.module.and_then(|id| modules.info(id)).is_some();
        done.stats.summarize(key, dur, in_module);
        let row = KernelRow {
            record: k,
            categorized,
            step,
        };
        append_kernel(builder, &row, steps, modules, fallback_phase);
        Ok(true)
    }
}
