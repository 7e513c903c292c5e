//! Lazy `StringIds` lookups: only the strings a pass actually references are loaded
//! (kernel and API names), by primary key, and kept for the pass. Values are shared
//! (`Arc<str>`), so a record carries its name for the cost of a reference count.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Statement};

use super::export::{NsysExport, STRINGS};
use crate::error::Result;

/// Cache of `StringIds.value` by id for one connection.
pub struct StringCache<'c> {
    stmt: Statement<'c>,
    values: HashMap<i64, Arc<str>>,
    /// API names with their CUPTI version suffix stripped, by string id.
    apis: HashMap<i64, Arc<str>>,
}

impl<'c> StringCache<'c> {
    pub fn new(conn: &'c Connection, export: &NsysExport) -> Result<Self> {
        let stmt = conn
            .prepare("SELECT value FROM StringIds WHERE id = ?1")
            .map_err(export.sql_error(STRINGS))?;
        Ok(StringCache {
            stmt,
            values: HashMap::new(),
            apis: HashMap::new(),
        })
    }

    /// The string for `id` (`<unknown string N>` if the id is not in the table:
    /// post-processed exports keep only some strings).
    pub fn get(&mut self, id: i64, export: &NsysExport) -> Result<Arc<str>> {
        if let Some(value) = self.values.get(&id) {
            return Ok(Arc::clone(value));
        }
        let value: Option<String> = self
            .stmt
            .query_row([id], |r| r.get(0))
            .optional()
            .map_err(export.sql_error(STRINGS))?;
        let value = value.unwrap_or_else(|| format!("<unknown string {id}>"));
        let value: Arc<str> = Arc::from(crate::ingest::sanity::cap_name(value));
        self.values.insert(id, Arc::clone(&value));
        Ok(value)
    }

    /// The API name of string `id` without its CUPTI version suffix.
    pub fn api(&mut self, id: i64, export: &NsysExport) -> Result<Arc<str>> {
        if let Some(name) = self.apis.get(&id) {
            return Ok(Arc::clone(name));
        }
        let name: Arc<str> = Arc::from(strip_api_version(&self.get(id, export)?));
        self.apis.insert(id, Arc::clone(&name));
        Ok(name)
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
