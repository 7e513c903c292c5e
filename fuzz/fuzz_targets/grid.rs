#![no_main]
//! cargo-fuzz target: see `trace_fuzz::grid`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trace_fuzz::grid(data);
});
