//! The Nsight Systems SQLite importer. This is the only module that knows nsys
//! table and column names (`CUPTI_ACTIVITY_KIND_KERNEL`, `StringIds`, …).
//!
//! - [`export`]: open read-only, prove it is an nsys export, probe tables/columns
//!   across schema versions (2.9 → 3.25+), map SQLite failures to clear errors.
//! - [`nvtx`]: pass 1 — NVTX rows (with nesting depth) and the labelled steps.
//! - [`gpu_ops`]: pass 2 — kernels and memops joined to their launching API call on
//!   (process, correlationId), attributed and categorised, streamed in start order.
//! - [`meta`]: the whitelisted run facts (versions, GPU model and count).
//! - [`modules`]: module NVTX ranges and CUDA-graph node creation events.
//!
//! Ids: `globalTid`/`globalPid` pack `pid` in bits 24–47 and `tid` in bits 0–23.

pub mod export;
pub mod gpu_ops;
pub mod meta;
pub mod modules;
pub mod nvtx;
mod strings;

pub use export::NsysExport;

/// OS process id packed in a serialized `globalTid`/`globalPid`.
pub fn pid_of(global_id: i64) -> i64 {
    (global_id >> 24) & 0xFF_FFFF
}

/// OS thread id packed in a serialized `globalTid`.
pub fn tid_of(global_tid: i64) -> i64 {
    global_tid & 0xFF_FFFF
}

/// `globalTid & 0xFFFFFFFFFF000000` as a signed SQLite integer: the globalPid of a thread.
pub const PROCESS_MASK: i64 = -16_777_216;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_global_ids() {
        // 0x0001_00006F_000000: VM 1, PID 111 (nsys_schema.md §2).
        assert_eq!(pid_of(281_476_838_981_632), 111);
        assert_eq!(tid_of(0x1000001000001), 1);
        assert_eq!(
            0x0001_0000_6F00_0123_i64 & PROCESS_MASK,
            0x0001_0000_6F00_0000
        );
    }
}
