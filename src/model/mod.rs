//! The tidy dataset: Arrow schemas of every table, batch builders, and the
//! staged, atomically committed Parquet layout
//! `results/parquet/<table>/run=<run_id>/part-<n>.parquet`.
//!
//! Invariants: every schema lives in [`schema`] (and every column is documented in
//! `docs/SCHEMA.md`, checked by a test); times are int64 ns with `_ns` suffixes; the
//! `run` column is never stored in files — it comes from the Hive partition path.

pub mod dataset;
pub mod schema;
pub mod writer;

pub use dataset::Staging;
pub use writer::TableWriter;
