//! `trace` — where does an LLM forward pass spend its GPU time?
//!
//! The crate is a pipeline of stages that each read and write files, so every stage
//! can be re-run and tested alone:
//!
//! ```text
//! capture:   conf/*.yaml + model_conf + grid ─► SGLang flags checked against the
//!            release's facts ─► the embedded Python harness (SGLang or HF engine, one
//!            process per rank) under `nsys profile` ─► report exported ─► ingest
//! ingest:    nsys SQLite | Kineto JSON ──(ingest::probe picks the Importer)──► rows in ns
//!            └► attribute: per-thread label lookup (kernel ⇐ launching API call ⇐
//!               innermost labelled NVTX range), module ranges (graph nodes ⇐ their
//!               capture), module rules then name rules, step sums
//!            └► dataset: results/parquet/<table>/run=<key> → a whole generation,
//!               staged, then published by one atomic link switch
//! query:     DataFusion over results/parquet ─► queries/*.sql ─► table|csv|json|parquet
//!            (locally, or on an Apache DataFusion Ballista cluster: `cluster`, feature
//!            `cluster`)
//! report:    the same SQL ─► one self-contained HTML page (inline SVG); diff: two runs
//!            per shape × category × kernel, bootstrap noise, exit 1 past the gate
//! ```
//!
//! Invariants shared by every stage: times are `i64` nanoseconds on the trace's own
//! clock (columns end in `_ns`); nothing is dropped silently (skipped rows are counted
//! by reason in [`ingest::Survey`]); nothing half-written is ever visible to a reader.

pub mod arch;
pub mod attribute;
pub mod build_info;
pub mod capture;
pub mod cli;
pub mod cluster;
pub mod console;
pub mod dataset;
pub mod diff;
pub mod doctor;
pub mod error;
pub mod fast_hash;
pub mod ingest;
pub mod nsys_tool;
pub mod query;
pub mod report;
pub mod shipped;
pub mod stage_timing;
pub mod vocab;

pub use error::{Error, Result};
