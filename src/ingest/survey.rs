//! What ingest saw but could not use, counted by reason — nothing is dropped
//! silently. Warnings are whole-file observations (a missing table, an empty
//! capture); skipped counts are per row.

use std::collections::BTreeMap;

/// Counts of skipped rows by reason, plus warnings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Survey {
    /// Rows not used, by reason (sorted for stable output).
    pub skipped: BTreeMap<String, u64>,
    /// Observations about a whole input (missing tables and such).
    pub warnings: Vec<String>,
}

impl Survey {
    /// Counts one skipped row.
    pub fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    /// Counts `n` skipped rows.
    pub fn skip_n(&mut self, reason: &str, n: u64) {
        *self.skipped.entry(reason.to_string()).or_default() += n;
    }

    /// Records a warning.
    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }

    /// Adds another survey's counts and warnings.
    pub fn merge(&mut self, other: Survey) {
        for (reason, n) in other.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
        self.warnings.extend(other.warnings);
    }
}
