//! `StringIds` lookups behind [`Names`], which the readers share between the two
//! stores: [`StringCache`] (SQLite) loads only the strings a pass references, by
//! primary key; the parquetdir store reads the table whole (it is small). Values are
//! shared (`Arc<str>`), so a record carries its name for the cost of a reference count.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Statement};

use super::export::{NsysExport, STRINGS};
use crate::error::Result;
use crate::fast_hash::FastMap;

/// Strings by `StringIds` id, whatever the store.
pub trait Names {
    /// The string for `id` (`<unknown string N>` if the id is not in the table).
    fn name(&mut self, id: i64) -> Result<Arc<str>>;
    /// The API name of string `id` without its CUPTI version suffix.
    fn api(&mut self, id: i64) -> Result<Arc<str>>;
}

/// The text for an id missing from `StringIds` (post-processed exports keep only
/// some strings), and every value capped as [`crate::ingest::sanity::cap_name`] does.
pub fn stored_or_unknown(id: i64, value: Option<String>) -> Arc<str> {
    let value = value.unwrap_or_else(|| format!("<unknown string {id}>"));
    Arc::from(crate::ingest::sanity::cap_name(value))
}

/// Cache of `StringIds.value` by id for one connection.
pub struct StringCache<'c> {
    export: &'c NsysExport,
    stmt: Statement<'c>,
    values: FastMap<i64, Arc<str>>,
    /// API names with their CUPTI version suffix stripped, by string id.
    apis: FastMap<i64, Arc<str>>,
}

impl<'c> StringCache<'c> {
    pub fn new(conn: &'c Connection, export: &'c NsysExport) -> Result<Self> {
        let stmt = conn
            .prepare("SELECT value FROM StringIds WHERE id = ?1")
            .map_err(export.sql_error(STRINGS))?;
        Ok(StringCache {
            export,
            stmt,
            values: FastMap::default(),
            apis: FastMap::default(),
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
        let value = stored_or_unknown(id, value);
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

impl Names for StringCache<'_> {
    fn name(&mut self, id: i64) -> Result<Arc<str>> {
        let export = self.export;
        self.get(id, export)
    }

    fn api(&mut self, id: i64) -> Result<Arc<str>> {
        let export = self.export;
        StringCache::api(self, id, export)
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
