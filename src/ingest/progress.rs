//! Progress bars on stderr (drawn only on a terminal): rows per pass for inputs
//! that know their row counts, a spinner over events for the rest. Row counts are
//! asked of the importer only when a bar is drawn.

use std::path::Path;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::importer::Importer;
use crate::error::Result;

/// The bars of one ingest (hidden unless `visible`).
pub fn bars(visible: bool) -> MultiProgress {
    MultiProgress::with_draw_target(if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// A spinner counting the events of a trace read in one stream.
pub fn events(bars: &MultiProgress, path: &Path) -> ProgressBar {
    let progress = bars.add(ProgressBar::new_spinner());
    progress.set_prefix(file_name(path));
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>24} [{elapsed_precise}] {spinner} {human_pos} events",
    ) {
        progress.set_style(style);
    }
    progress
}

/// Bars for the passes over one input.
pub struct Bars<'a> {
    bars: &'a MultiProgress,
    name: String,
}

impl<'a> Bars<'a> {
    pub fn new(bars: &'a MultiProgress, importer: &dyn Importer) -> Bars<'a> {
        Bars {
            bars,
            name: file_name(importer.path()),
        }
    }

    /// A bar over the rows `total` counts (0 when unknown or hidden).
    pub fn rows(&self, total: impl FnOnce() -> Result<u64>, what: &str) -> ProgressBar {
        let total = if self.bars.is_hidden() {
            0
        } else {
            total().unwrap_or(0)
        };
        let bar = self.bars.add(ProgressBar::new(total));
        bar.set_prefix(format!("{} {what}", self.name));
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>24} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows (eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}
