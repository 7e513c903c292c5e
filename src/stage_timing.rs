//! Wall times of the stages of one ingest (NVTX pass, launch index, kernel chunks,
//! each table's Parquet encoder), printed to stderr when `TRACE_TIMING` is set
//! (`TRACE_TIMING=1 trace ingest …`; `TRACE_PHASES`, its old name, works too): where
//! the time goes, for the bench's profile. A leaf below every stage that reports
//! (ingest and the dataset writer). Off by default; nothing is printed or stored
//! otherwise. ("Phase" elsewhere means prefill / decode, hence the name.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// True when stage times are wanted.
pub fn enabled() -> bool {
    std::env::var_os("TRACE_TIMING").is_some() || std::env::var_os("TRACE_PHASES").is_some()
}

/// Prints one stage's time: `stage <input> <what> <seconds>`.
pub fn report(input: &str, what: &str, took: Duration) {
    if enabled() {
        crate::say!("stage {input} {what} {:.3}", took.as_secs_f64());
    }
}

/// Busy time summed over the threads that add to it.
#[derive(Debug, Default)]
pub struct Busy(AtomicU64);

impl Busy {
    /// Runs `f`, adding its wall time.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let value = f();
        self.0
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        value
    }

    /// Adds `took`.
    pub fn add(&self, took: Duration) {
        self.0.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The summed time.
    pub fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}
