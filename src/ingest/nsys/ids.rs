//! The layout of nsys's serialized ids: `globalTid` packs the OS process and thread
//! ids (24 bits each) under a hardware/VM prefix; `globalPid` is the same with the
//! thread bits zero. A leaf every nsys reader uses.

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
