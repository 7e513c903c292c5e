//! One representative step per shape, as lanes of kernels (one lane per device and
//! stream), thinned so the page stays small however many kernels a step has.
//!
//! The representative step of a shape is the one whose GPU span is the median of the
//! shape's steps (ties: lowest step id); in a multi-process run, each other process
//! contributes its step of the same shape and iteration whose CPU start is nearest.
//! Invariants: times are ns relative to the first kernel of the timeline; thinning
//! only merges neighbours of the same category in the same lane, so every kernel's
//! time stays in exactly one block and the blocks of a lane sum to its kernel time.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::query::internal::Param::{Ints, Text};
use crate::query::reader::Reader;
use crate::vocab::Shape;

/// Most blocks one timeline may draw; past it, neighbours merge more coarsely.
pub const MAX_BLOCKS: usize = 1500;

/// Kernels (or merged runs of kernels) drawn as one rectangle.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Block {
    pub start_ns: i64,
    pub end_ns: i64,
    /// Summed kernel time (≤ end − start when merged kernels leave gaps).
    pub kernel_ns: i64,
    pub category: String,
    /// Kernel name, or the first kernel's name when `kernels > 1`.
    pub name: String,
    pub kernels: i64,
}

/// One device × stream row of a timeline.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Lane {
    pub device: i64,
    pub stream: i64,
    pub blocks: Vec<Block>,
}

/// The representative step of one shape.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Timeline {
    pub shape: Shape,
    pub iter: Option<i64>,
    /// Step ids drawn (one per process).
    pub steps: Vec<i64>,
    pub span_ns: i64,
    /// Kernels drawn (before merging).
    pub kernels: i64,
    pub lanes: Vec<Lane>,
}

struct StepRow {
    step: i64,
    pid: i64,
    shape: Shape,
    iter: Option<i64>,
    cpu_start_ns: i64,
    span_ns: i64,
}

/// A shape, the iteration drawn, and the step ids drawn (one per process).
type Representative = (Shape, Option<i64>, Vec<i64>);

/// The representative step ids of every shape of `run`.
fn representatives(ds: &Reader, run: &str) -> Result<Vec<Representative>> {
    let rows = ds.ask("report/timeline-steps", &[("run", Text(run))])?;
    let (step, pid, phase) = (
        rows.i64s_or_zero("step")?,
        rows.i64s_or_zero("pid")?,
        rows.strings_or_empty("phase")?,
    );
    let (bsz, seq, iter) = (
        rows.i64s_or_zero("bsz")?,
        rows.i64s("seq")?,
        rows.i64s("iter")?,
    );
    let (cpu_start, span) = (
        rows.i64s_or_zero("cpu_start_ns")?,
        rows.i64s_or_zero("span_ns")?,
    );
    let mut by_shape: BTreeMap<Shape, Vec<StepRow>> = BTreeMap::new();
    for i in 0..rows.len() {
        let shape = Shape {
            phase: phase[i].clone(),
            bsz: bsz[i],
            seq: seq[i],
        };
        by_shape.entry(shape.clone()).or_default().push(StepRow {
            step: step[i],
            pid: pid[i],
            shape,
            iter: iter[i],
            cpu_start_ns: cpu_start[i],
            span_ns: span[i],
        });
    }
    let mut out = Vec::new();
    for (shape, mut steps) in by_shape {
        steps.sort_by_key(|s| (s.span_ns, s.step));
        let median = &steps[(steps.len() - 1) / 2];
        let mut chosen = vec![median.step];
        let mut pids: Vec<i64> = steps.iter().map(|s| s.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        for pid in pids.into_iter().filter(|p| *p != median.pid) {
            let nearest = steps
                .iter()
                .filter(|s| s.pid == pid && s.iter == median.iter && s.shape == median.shape)
                .min_by_key(|s| ((s.cpu_start_ns - median.cpu_start_ns).abs(), s.step));
            if let Some(s) = nearest {
                chosen.push(s.step);
            }
        }
        chosen.sort_unstable();
        out.push((shape, median.iter, chosen));
    }
    Ok(out)
}

/// The timeline of every shape of `run`, prefill first.
pub fn timelines(ds: &Reader, run: &str) -> Result<Vec<Timeline>> {
    let reps = representatives(ds, run)?;
    let all: Vec<i64> = reps.iter().flat_map(|r| r.2.iter().copied()).collect();
    if all.is_empty() {
        return Ok(Vec::new());
    }
    let rows = ds.ask(
        "report/timeline-kernels",
        &[("run", Text(run)), ("steps", Ints(&all))],
    )?;
    let (step, device, stream) = (
        rows.i64s_or_zero("step")?,
        rows.i64s_or_zero("device")?,
        rows.i64s_or_zero("stream")?,
    );
    let (start, end) = (rows.i64s_or_zero("start_ns")?, rows.i64s_or_zero("end_ns")?);
    let (name, category) = (
        rows.strings_or_empty("name")?,
        rows.strings_or_empty("category")?,
    );
    let mut by_step: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, s) in step.iter().enumerate() {
        by_step.entry(*s).or_default().push(i);
    }
    let mut out = Vec::new();
    for (shape, iter, steps) in reps {
        let rows_of: Vec<usize> = steps
            .iter()
            .flat_map(|s| by_step.get(s).cloned().unwrap_or_default())
            .collect();
        let t0 = rows_of.iter().map(|&i| start[i]).min().unwrap_or(0);
        let t1 = rows_of.iter().map(|&i| end[i]).max().unwrap_or(0);
        let mut lanes: BTreeMap<(i64, i64), Vec<Block>> = BTreeMap::new();
        for &i in &rows_of {
            lanes
                .entry((device[i], stream[i]))
                .or_default()
                .push(Block {
                    start_ns: start[i] - t0,
                    end_ns: end[i] - t0,
                    kernel_ns: end[i] - start[i],
                    category: category[i].clone(),
                    name: name[i].clone(),
                    kernels: 1,
                });
        }
        let span_ns = (t1 - t0).max(1);
        let kernels = rows_of.len() as i64;
        let mut lanes: Vec<Lane> = lanes
            .into_iter()
            .map(|((device, stream), mut blocks)| {
                blocks.sort_by_key(|b| (b.start_ns, b.end_ns));
                Lane {
                    device,
                    stream,
                    blocks,
                }
            })
            .collect();
        thin(&mut lanes, span_ns);
        out.push(Timeline {
            shape,
            iter,
            steps,
            span_ns,
            kernels,
            lanes,
        });
    }
    out.sort_by_key(|t| t.shape.sort_key());
    Ok(out)
}

/// Merges neighbours of one category closer than a resolution (starting at 1/2000 of
/// the span, doubling) until the timeline has at most [`MAX_BLOCKS`] blocks.
pub fn thin(lanes: &mut [Lane], span_ns: i64) {
    let mut resolution = (span_ns / 2000).max(1);
    loop {
        let total: usize = lanes.iter().map(|l| l.blocks.len()).sum();
        if total <= MAX_BLOCKS || resolution > span_ns {
            return;
        }
        for lane in lanes.iter_mut() {
            let mut merged: Vec<Block> = Vec::with_capacity(lane.blocks.len());
            for block in lane.blocks.drain(..) {
                match merged.last_mut() {
                    Some(last)
                        if last.category == block.category
                            && block.start_ns - last.end_ns < resolution
                            && (block.end_ns - block.start_ns < resolution
                                || last.end_ns - last.start_ns < resolution) =>
                    {
                        last.end_ns = last.end_ns.max(block.end_ns);
                        last.kernel_ns += block.kernel_ns;
                        last.kernels += block.kernels;
                    }
                    _ => merged.push(block),
                }
            }
            lane.blocks = merged;
        }
        resolution *= 2;
    }
}
