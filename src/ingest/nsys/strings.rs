//! Lazy `StringIds` lookups: only the strings a pass actually references are loaded
//! (kernel and API names), by primary key, and kept for the pass.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Statement};

use super::export::{NsysExport, STRINGS};
use crate::error::Result;

/// Cache of `StringIds.value` by id for one connection.
pub struct StringCache<'c> {
    stmt: Statement<'c>,
    values: HashMap<i64, String>,
}

impl<'c> StringCache<'c> {
    pub fn new(conn: &'c Connection, export: &NsysExport) -> Result<Self> {
        let stmt = conn
            .prepare("SELECT value FROM StringIds WHERE id = ?1")
            .map_err(export.sql_error(STRINGS))?;
        Ok(StringCache {
            stmt,
            values: HashMap::new(),
        })
    }

    /// The string for `id` (`<unknown string N>` if the id is not in the table:
    /// post-processed exports keep only some strings).
    pub fn get(&mut self, id: i64, export: &NsysExport) -> Result<&str> {
        if !self.values.contains_key(&id) {
            let value: Option<String> = self
                .stmt
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(export.sql_error(STRINGS))?;
            let value = value.unwrap_or_else(|| format!("<unknown string {id}>"));
            self.values
                .insert(id, crate::ingest::sanity::cap_name(value));
        }
        Ok(self.values.get(&id).map(String::as_str).unwrap_or_default())
    }
}

/// CUDA runtime API names carry a CUPTI version suffix (`cudaLaunchKernel_v7000`);
/// driver APIs do not. Strips it.
pub fn strip_api_version(name: &str) -> &str {
    match name.rsplit_once("_v") {
        Some((base, digits))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base
        }
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::strip_api_version;

    #[test]
    fn strips_only_numeric_version_suffixes() {
        assert_eq!(
            strip_api_version("cudaLaunchKernel_v7000"),
            "cudaLaunchKernel"
        );
        assert_eq!(
            strip_api_version("cudaGraphLaunch_v10000"),
            "cudaGraphLaunch"
        );
        assert_eq!(strip_api_version("cuLaunchKernelEx"), "cuLaunchKernelEx");
        assert_eq!(strip_api_version("cuGetProcAddress_v2"), "cuGetProcAddress");
        assert_eq!(strip_api_version("my_var"), "my_var");
    }
}
