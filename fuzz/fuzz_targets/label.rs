#![no_main]
//! cargo-fuzz target: see `trace_fuzz::label`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trace_fuzz::label(data);
});
