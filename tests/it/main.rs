//! The one integration-test binary: real fixture traces in `fixtures/`, synthetic
//! SQLite exports built in code for edge cases, and the `trace` binary itself.

mod common;
mod synthetic;

mod agreement;
mod anywhere;
mod atomic;
mod bad_input;
mod capture;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod compact;
mod diff;
mod engine_traces;
mod exactness;
mod fuzz_corpus;
mod hostile;
mod invariants;
mod kernel_names;
mod kineto;
mod kineto_wrong_types;
mod model_accounting;
mod module_exactness;
mod modules;
mod multi_writer;
mod nothing_lost;
mod parallel;
mod parquetdir;
mod privacy;
mod public_traces;
mod query;
mod reader_race;
mod report;
mod scaling;
mod schema_doc;
mod schema_versions;
mod sglang_capture;
mod skew;
mod summaries;
