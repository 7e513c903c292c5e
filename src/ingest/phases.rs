//! Per-phase wall times of one ingest, printed to stderr when `TRACE_PHASES` is set
//! (`TRACE_PHASES=1 trace ingest …`): where the time goes, for the bench's profile.
//! Off by default; nothing is printed or stored otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// True when phase times are wanted.
pub fn enabled() -> bool {
    std::env::var_os("TRACE_PHASES").is_some()
}

/// Prints one phase's time: `phase <input> <what> <seconds>`.
pub fn report(input: &str, what: &str, took: Duration) {
    if enabled() {
        eprintln!("phase {input} {what} {:.3}", took.as_secs_f64());
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
