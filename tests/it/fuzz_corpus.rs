//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the
//! same entry points the cargo-fuzz targets call (`fuzz/src/entries.rs`, included
//! here by path), on the stable toolchain: seconds, not a fuzzing run. Crashes
//! found by fuzzing are added to the corpus, so each stays a regression test.

#[allow(dead_code)]
#[path = "../../fuzz/src/entries.rs"]
mod entries;

use crate::common::root;

fn replay(target: &str, entry: fn(&[u8])) {
    let dir = root().join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus for {target}");
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", file.display());
    }
}

#[test]
fn nsys_sqlite_bytes() {
    replay("nsys_sqlite_bytes", entries::nsys_sqlite_bytes);
}

#[test]
fn nsys_rows() {
    replay("nsys_rows", entries::nsys_rows);
}

#[test]
fn kineto_json_bytes() {
    replay("kineto_json_bytes", entries::kineto_json_bytes);
}

#[test]
fn label() {
    replay("label", entries::label);
}

#[test]
fn compose() {
    replay("compose", entries::compose);
}

#[test]
fn grid() {
    replay("grid", entries::grid);
}
