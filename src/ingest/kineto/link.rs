//! CUDA-graph replays matched across the files of one run.
//!
//! SGLang and vLLM profile graph capture and replay separately: SGLang writes the
//! capture of each batch size to its own trace (`capture_traces/bs_32_rank0.json`,
//! a `capture_32_DECODE` annotation around `hipStreamBeginCapture` … `EndCapture`),
//! and the serving steps that replay those graphs to another. Ingested as one run
//! (`trace ingest capture.json steps.json --run-id R`), a replay in one file is
//! matched to the captures of every file of the run, by the rule of
//! [`super::graphs`]: the latest capture of the same process that ended before the
//! replay started and issued as many launches. Kineto's timestamps are the host's
//! clock, the same for every trace a process writes.
//!
//! Invariants:
//! - A file's own captures and the other files' captures are one candidate list;
//!   a single-file run matches exactly as before.
//! - When a replay matches another file's capture, the replaying file borrows that
//!   file's module ranges on the capturing thread within the capture's span (the
//!   harness's `module:` annotations or SGLang's markers when the capturing file has
//!   any, else PyTorch's `nn.Module` events, as the pipeline chooses for one file), so
//!   the replayed kernel gets the module open when its node was captured. Borrowed
//!   ranges lie in the capture's time span, before any of the replaying file's own
//!   events; they are used for module lookup only, never written as NVTX rows.

use super::graphs::{self, Capture, Matched};
use super::KinetoImporter;
use crate::attribute::module_index::ModuleRange;
use crate::attribute::modules::ModuleText;

/// Matches the replays of every importer against the captures of all of them and
/// gives each importer its graph nodes and the module ranges it borrows.
pub fn link(importers: &mut [KinetoImporter]) {
    let mut captures: Vec<Capture> = Vec::new();
    let mut origin: Vec<usize> = Vec::new();
    for (file, importer) in importers.iter().enumerate() {
        captures.extend(importer.collected.captures.iter().cloned());
        origin.extend(std::iter::repeat_n(file, importer.collected.captures.len()));
    }
    let matched: Vec<(Matched, Vec<ModuleRange>)> = importers
        .iter()
        .enumerate()
        .map(|(file, importer)| {
            let matched =
                graphs::match_replays(&captures, KinetoImporter::replays(&importer.collected));
            let borrowed = matched
                .used
                .iter()
                .filter(|&&index| origin[index] != file)
                .flat_map(|&index| importers[origin[index]].modules_during(&captures[index]))
                .collect();
            (matched, borrowed)
        })
        .collect();
    for (importer, (matched, borrowed)) in importers.iter_mut().zip(matched) {
        importer.graphs = matched;
        importer.borrowed_modules = borrowed;
    }
}

impl KinetoImporter {
    /// This trace's module ranges on `capture`'s thread that overlap its span: the
    /// module annotations (`module:`, SGLang's markers) when the trace has any, else
    /// PyTorch's `nn.Module` events.
    fn modules_during(&self, capture: &Capture) -> Vec<ModuleRange> {
        let c = &self.collected;
        let annotated = c
            .annotations
            .iter()
            .any(|a| ModuleText::parse(&a.name).is_some());
        let source = if annotated {
            &c.annotations
        } else {
            &c.torch_modules
        };
        source
            .iter()
            .filter(|a| {
                a.thread == capture.thread && a.start <= capture.end && a.end >= capture.begin
            })
            .filter(|a| ModuleText::parse(&a.name).is_some())
            .map(|a| ModuleRange {
                thread: a.thread,
                start: a.start,
                end: a.end,
                text: a.name.clone(),
            })
            .collect()
    }
}
