//! Parts: the pieces of one run that separate writers own.
//!
//! A part is named by the input it came from (a rank file, a node's report) and owns
//! the file `part-<name>.parquet` in every table of the run; a commit replaces exactly
//! the parts its writer owns and carries the others over. Next to the tables, each
//! generation holds one record per part:
//!
//! ```text
//! gen-<n>/.parts/<name>.json    {"writer": "<token>", "facts": {…} | null}
//! ```
//!
//! `writer` is unique to the ingest that committed the part: a writer remembers the
//! token it saw when it started and refuses to commit if another writer committed
//! the same part meanwhile (two writers of one part: the first to commit wins whole).
//! `facts` are what the part contributes to the run-level tables (`runs`,
//! `model_flops`), which every ingest commit rewrites from the records of all parts,
//! so they do not depend on the order parts arrived in.
//!
//! Invariants: part names are portable file names, distinct for distinct inputs
//! ([`part_name`] is injective); a run-level table's file is [`crate::dataset::layout::RUN_FILE`], never a part.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dataset::run_key::partition_key;
use crate::error::{Error, Result};

use crate::dataset::layout::PARTS_DIR;

/// A part's record in a generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Unique to the writer that committed the part.
    pub writer: String,
    /// What the part contributes to the run-level tables (null: nothing).
    pub facts: serde_json::Value,
}

/// The part name of an input labelled `label` (e.g. a file stem): `label` itself
/// when it is a short portable name, else a readable prefix and a hash.
pub fn part_name(label: &str) -> Result<String> {
    partition_key(label).map_err(|_| {
        Error::Usage(format!(
            "cannot name a part after {label:?}: rename the input file"
        ))
    })
}

/// The file a part owns in each table.
pub fn file_name(part: &str) -> String {
    format!("part-{part}.parquet")
}

/// The part owning table file `name`, if it is a part file.
pub fn part_of_file(name: &str) -> Option<&str> {
    name.strip_prefix("part-")?.strip_suffix(".parquet")
}

/// First step id of a part: ids are `base + n`, with `n < 2^32`, and the base a
/// function of the part name alone, so a part gets the same ids whichever writer
/// ingests it and whatever else the run holds. Two parts of one run with one base
/// are refused by the run-level merge.
pub fn step_base(part: &str) -> i64 {
    ((crate::vocab::fnv1a64(part.as_bytes()) >> 33) << 32) as i64
}

/// The record of `part` in generation `gen_dir`, if it has one.
pub fn read_record(gen_dir: &Path, part: &str) -> Result<Option<PartRecord>> {
    let path = gen_dir.join(PARTS_DIR).join(format!("{part}.json"));
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Input {
                path: path.clone(),
                reason: format!("unreadable part record ({e}); re-ingest the part"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Every part record of generation `gen_dir`, by part name.
pub fn read_all(gen_dir: &Path) -> Result<BTreeMap<String, PartRecord>> {
    let dir = gen_dir.join(PARTS_DIR);
    let mut records = BTreeMap::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(records),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(part) = name.strip_suffix(".json") {
            if let Some(record) = read_record(gen_dir, part)? {
                records.insert(part.to_string(), record);
            }
        }
    }
    Ok(records)
}

/// Writes the record of `part` into the staged generation `staged`.
pub fn write_record(staged: &Path, part: &str, record: &PartRecord) -> Result<()> {
    let dir = staged.join(PARTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("{part}.json"));
    let text = serde_json::to_string(record).map_err(|e| Error::Parquet {
        path: path.clone(),
        reason: format!("encoding the part record: {e}"),
    })?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_files_round_trip_and_bases_leave_room_for_steps() {
        for part in ["rank0", "node-1", "a.b"] {
            assert_eq!(part_of_file(&file_name(part)), Some(part));
            let base = step_base(part);
            assert!(base >= 0 && base % (1 << 32) == 0, "{part}: {base}");
            assert!(base.checked_add(u32::MAX as i64).is_some());
        }
        assert_eq!(part_of_file(crate::dataset::layout::RUN_FILE), None);
        assert_ne!(step_base("rank0"), step_base("rank1"));
    }

    #[test]
    fn odd_input_names_become_portable_distinct_parts() {
        let a = part_name("report 1").unwrap();
        let b = part_name("report_1").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains(' ') && !a.contains('/'));
        assert!(part_name("").is_err());
    }
}
