//! The tidy dataset: Arrow schemas of every table, batch builders, and the
//! staged, atomically committed Parquet layout
//! `results/parquet/<table>/run=<key>/part-<part>.parquet` (each `run=<key>` a link
//! into the run's current generation under `.runs/`, see [`commit`]), written by one
//! or many writers, each owning the parts named after its inputs ([`parts`]).
//!
//! Invariants: every schema lives in [`schema`] (and every column is documented in
//! `docs/SCHEMA.md`, checked by a test); times are int64 ns with `_ns` suffixes; the
//! `run` column is never stored in files — it comes from the Hive partition path;
//! run ids map to partition keys injectively ([`run_key`]).

pub mod commit;
#[cfg(test)]
mod commit_tests;
pub mod compact;
pub mod encode;
pub mod layout;
pub mod lock;
pub mod parts;
pub mod remove;
pub mod run_key;
pub mod schema;
pub mod staging;
pub mod writer;

pub use run_key::partition_key;
pub use staging::Staging;
pub use writer::TableWriter;
