#![no_main]
//! cargo-fuzz target: see `trace_fuzz::compose`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trace_fuzz::compose(data);
});
