//! Opening an nsys SQLite export safely and learning its shape.
//!
//! Invariants: the database is opened read-only; a file that is not SQLite, not an
//! nsys export, or truncated yields [`Error::Input`] naming the file; a missing
//! required column yields [`Error::Schema`] naming the table and column. Optional
//! tables and columns are probed here once, so readers select `NULL` in their place.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

pub const KERNEL: &str = "CUPTI_ACTIVITY_KIND_KERNEL";
pub const RUNTIME: &str = "CUPTI_ACTIVITY_KIND_RUNTIME";
pub const MEMCPY: &str = "CUPTI_ACTIVITY_KIND_MEMCPY";
pub const MEMSET: &str = "CUPTI_ACTIVITY_KIND_MEMSET";
pub const NVTX: &str = "NVTX_EVENTS";
pub const STRINGS: &str = "StringIds";

/// An opened export: its path, tables and columns.
#[derive(Debug)]
pub struct NsysExport {
    pub path: PathBuf,
    columns: HashMap<String, HashSet<String>>,
}

impl NsysExport {
    /// Opens `path` and checks that it is an nsys export.
    pub fn open(path: &Path) -> Result<NsysExport> {
        let conn = connect(path)?;
        let tables = list_tables(&conn, path)?;
        let is_nsys = tables.contains(STRINGS)
            && (tables.contains("META_DATA_EXPORT")
                || tables.contains("EXPORT_META_DATA")
                || tables.iter().any(|t| t.starts_with("CUPTI_ACTIVITY_KIND_"))
                || tables.contains(NVTX));
        if !is_nsys {
            return Err(Error::input(
                path,
                "SQLite database, but not an Nsight Systems export (no StringIds and META_DATA_EXPORT tables); make one with `nsys export --type sqlite REPORT.nsys-rep`",
            ));
        }
        let mut columns = HashMap::new();
        for table in tables {
            let sql = format!("SELECT name FROM pragma_table_info('{table}')");
            let names = query_strings(&conn, path, &table, &sql)?;
            columns.insert(table, names.into_iter().collect());
        }
        Ok(NsysExport {
            path: path.to_path_buf(),
            columns,
        })
    }

    /// A new read-only connection (one per pass, so passes can run in parallel).
    pub fn connect(&self) -> Result<Connection> {
        connect(&self.path)
    }

    /// True when the export has `table`.
    pub fn has_table(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    /// True when `table` has `column`.
    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.columns.get(table).is_some_and(|c| c.contains(column))
    }

    /// `table.column` for a select list, or `NULL` when the column is absent.
    pub fn column_or_null(&self, alias: &str, table: &str, column: &str) -> String {
        if self.has_column(table, column) {
            format!("{alias}.\"{column}\"")
        } else {
            "NULL".to_string()
        }
    }

    /// Fails with a schema error unless `table` has every column in `required`.
    pub fn require_columns(&self, table: &str, required: &[&str]) -> Result<()> {
        for column in required {
            if !self.has_column(table, column) {
                return Err(Error::Schema {
                    path: self.path.clone(),
                    table: table.to_string(),
                    reason: format!(
                        "missing column {column}; this export's schema is not supported — re-export the .nsys-rep with a recent nsys (`nsys export --type sqlite`)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// Rows of `table` (0 when absent): for progress bars, and to tell sparse rowids.
    pub fn row_count(&self, table: &str) -> Result<u64> {
        if !self.has_table(table) {
            return Ok(0);
        }
        self.connect()?
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(self.sql_error(table))
    }

    /// The row count of `table` when its rowids are sparse over `span` (fewer rows
    /// than half of it: an edited or damaged export), so rowid ranges should be sized
    /// by rows instead; `None` for a dense table.
    pub fn sparse_rows(&self, table: &str, span: i64) -> Result<Option<i64>> {
        let rows = i64::try_from(self.row_count(table)?).unwrap_or(i64::MAX);
        Ok((rows.saturating_mul(2) < span).then_some(rows))
    }

    /// Smallest and largest rowid of `table` (`None` when empty): two b-tree seeks.
    pub fn rowid_bounds(&self, table: &str) -> Result<Option<(i64, i64)>> {
        let bounds: (Option<i64>, Option<i64>) = self
            .connect()?
            .query_row(
                &format!("SELECT min(rowid), max(rowid) FROM {table}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.sql_error(table))?;
        Ok(bounds.0.zip(bounds.1))
    }

    /// Maps a SQLite error while reading `table` to a user-facing error.
    pub fn sql_error(&self, table: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
        let table = table.to_string();
        move |e| sql_error(&self.path, &table, e)
    }
}

/// A select list built by name: each column added returns the position to read it
/// from, so rows are read through named fields, never through counted positions.
#[derive(Debug, Default)]
pub struct Select {
    exprs: Vec<String>,
}

impl Select {
    /// Adds `alias."column"` (required: the caller checked it exists).
    pub fn column(&mut self, alias: &str, column: &str) -> usize {
        self.expr(format!("{alias}.\"{column}\""))
    }

    /// Adds `alias."column"`, or `NULL` when `table` lacks it.
    pub fn optional(
        &mut self,
        export: &NsysExport,
        alias: &str,
        table: &str,
        column: &str,
    ) -> usize {
        self.expr(export.column_or_null(alias, table, column))
    }

    /// Adds an SQL expression.
    pub fn expr(&mut self, expr: impl Into<String>) -> usize {
        self.exprs.push(expr.into());
        self.exprs.len() - 1
    }

    /// The comma-separated select list.
    pub fn list(&self) -> String {
        self.exprs.join(", ")
    }
}

fn connect(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| sql_error(path, "the database header", e))?;
    // Big sorts spill to temporary files instead of growing memory without bound.
    conn.execute_batch("PRAGMA temp_store = FILE; PRAGMA cache_size = -65536;")
        .map_err(|e| sql_error(path, "the database header", e))?;
    Ok(conn)
}

fn list_tables(conn: &Connection, path: &Path) -> Result<HashSet<String>> {
    let sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')";
    Ok(query_strings(conn, path, "sqlite_master", sql)?
        .into_iter()
        .collect())
}

fn query_strings(conn: &Connection, path: &Path, table: &str, sql: &str) -> Result<Vec<String>> {
    let error = |e| sql_error(path, table, e);
    let mut stmt = conn.prepare(sql).map_err(error)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(error)?;
    rows.collect::<std::result::Result<_, _>>().map_err(error)
}

/// Corrupt, truncated or non-database files are input errors; the rest are SQLite errors.
pub fn sql_error(path: &Path, table: &str, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::{CannotOpen, DatabaseCorrupt, NotADatabase};
    match e.sqlite_error_code() {
        Some(DatabaseCorrupt) => Error::input(
            path,
            format!("the SQLite file is corrupt or truncated (while reading {table}); export it again with `nsys export --type sqlite`"),
        ),
        Some(NotADatabase) => Error::input(path, "not an SQLite database (and so not an nsys export)"),
        Some(CannotOpen) => Error::input(path, format!("cannot open: {e}")),
        _ => Error::Sqlite {
            path: path.to_path_buf(),
            table: table.to_string(),
            cause: e,
        },
    }
}
