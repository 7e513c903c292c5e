#![no_main]
//! cargo-fuzz target: see `trace_fuzz::kineto_json_bytes`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trace_fuzz::kineto_json_bytes(data);
});
