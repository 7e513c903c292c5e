//! Ingest: turn profiler exports into the run's Parquet tables.
//!
//! [`probe`] looks at a file's first bytes and picks the importer (nsys SQLite, or
//! an `.nsys-rep` exported first, or a Kineto JSON trace). Every format implements
//! one trait, [`importer::Importer`], that turns an input into shared records
//! (kernels, memops, NVTX rows, run facts); [`run`] opens every input before
//! writing anything, and the shared [`passes`] alone label steps, attribute,
//! categorise, sum steps and write the tables through a
//! [`Staging`](crate::dataset::Staging) directory, returning a [`Summary`].
//! Inputs of one run are ingested concurrently and one input's kernel chunks in
//! parallel (rayon, `--threads`); every output is independent of the thread count.
//! Each input writes its own `part-<name>` files (named after the input, so separate
//! ingests can write parts of one run).

mod categorize;
mod chunks;
mod config;
pub mod importer;
mod kineto;
mod nsys;
mod ordered;
mod passes;
mod pipeline;
mod probe;
mod progress;
mod rows;
mod run_facts;
pub mod sanity;
mod stats;
mod steps;
mod summary;
mod survey;
mod tables;

pub use config::{IngestConfig, RunMeta};
pub use pipeline::run;
pub use probe::{probe, InputKind};
pub use summary::{ShapeCount, Summary};
pub use survey::Survey;
