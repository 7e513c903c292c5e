//! The fuzz entry points, shared with the stable corpus-replay test
//! (`tests/it/fuzz_corpus.rs` includes `entries.rs` by path).

mod entries;

pub use entries::*;
