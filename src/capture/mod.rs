//! `trace capture`: the seed's benchmark workflow, rebuilt.
//!
//! conf YAMLs + model_conf + grid → SGLang server arguments ([`compose`]), checked
//! against the SGLang release that will run ([`version`], [`sglang_api`]) → the
//! harness (the embedded `python/` files of [`HARNESS_FILES`], written into the run
//! directory) run over the grid, optionally under `nsys profile` ([`command`],
//! [`runner`]; the run itself is in `execute`) →
//! `latency` table, `benchmark.csv` with `--save`, and for profiled runs the report
//! exported to SQLite, ingested, and validated ([`results`]).
//!
//! Layout (seed-compatible): `results/raw_output/<run>.log`,
//! `results/<model>_profile/<run>/` (model/config.json, harness, server args,
//! latency.jsonl, report.nsys-rep, report.sqlite), `results/csv/benchmark.csv`,
//! `results/parquet/`.

pub mod command;
pub mod compose;
mod config;
mod execute;
pub mod grid;
mod plan;
pub mod results;
pub mod runner;
pub mod sglang_api;
pub mod validate;
pub mod version;

pub use config::{CaptureConfig, CaptureOutcome, HARNESS_FILES};
pub use execute::run;
pub use plan::{describe, plan, Plan};
