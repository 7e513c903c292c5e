//! The read side's one reader: read-only SQL over the dataset for the report and the
//! diff (one DataFusion session, through [`crate::query::session`]), typed column access
//! to the results.
//!
//! Invariants: every value is read by column name and cast to the Rust type asked for
//! (so an integer column read as `f64` works); a missing column is an error naming the
//! query and the column, never a panic; values reach the SQL only as parameters bound
//! by [`crate::query::internal`].

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use std::path::Path;

use crate::error::{Error, Result};
use crate::query::internal::{self, Param};
use crate::query::session::{self, Session};
use crate::query::QueryResult;

/// A read session over a dataset root plus the runtime that drives it (the write side
/// is [`crate::dataset`]).
pub struct Reader {
    runtime: tokio::runtime::Runtime,
    session: Session,
}

impl Reader {
    /// Opens the dataset at `root` (all runs; queries filter by run themselves).
    pub fn open(root: &Path) -> Result<Self> {
        let runtime = crate::query::runtime()?;
        let session = runtime.block_on(session::open(root, None))?;
        Ok(Reader { runtime, session })
    }

    /// Runs the internal question `name` (`queries/<name>.sql`, see
    /// [`crate::query::internal`]) with `params` bound.
    pub fn ask(&self, name: &str, params: &[(&str, Param)]) -> Result<Rows> {
        let sql = internal::sql(name, params)?;
        self.rows(&sql, &format!("queries/{name}.sql"))
    }

    /// Runs `sql`; `origin` names the question in errors ("report: top kernels").
    pub fn rows(&self, sql: &str, origin: &str) -> Result<Rows> {
        let result = self.runtime.block_on(self.session.run(sql, origin))?;
        Ok(Rows {
            origin: origin.to_string(),
            result,
        })
    }
}

/// A query result with typed, by-name column access.
pub struct Rows {
    origin: String,
    result: QueryResult,
}

impl Rows {
    /// The result as the query returned it (for writing it in an output format).
    pub fn result(&self) -> &QueryResult {
        &self.result
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.result.num_rows()
    }

    /// True when the query returned no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn column(&self, name: &str, to: &DataType) -> Result<Vec<datafusion::arrow::array::ArrayRef>> {
        let index = self
            .result
            .schema
            .index_of(name)
            .map_err(|_| Error::Query {
                context: self.origin.clone(),
                reason: format!("the result has no column {name:?}"),
            })?;
        self.result
            .batches
            .iter()
            .map(|b| {
                cast(b.column(index), to).map_err(|e| Error::Query {
                    context: format!("{}: column {name}", self.origin),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Column `name` as `f64` (null → `None`).
    pub fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let mut out = Vec::with_capacity(self.len());
        for array in self.column(name, &DataType::Float64)? {
            let values = array.as_primitive::<Float64Type>();
            out.extend((0..values.len()).map(|i| values.is_valid(i).then(|| values.value(i))));
        }
        Ok(out)
    }

    /// Column `name` as `i64` (null → `None`).
    pub fn i64s(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let mut out = Vec::with_capacity(self.len());
        for array in self.column(name, &DataType::Int64)? {
            let values = array.as_primitive::<Int64Type>();
            out.extend((0..values.len()).map(|i| values.is_valid(i).then(|| values.value(i))));
        }
        Ok(out)
    }

    /// Column `name` as strings (null → `None`).
    pub fn strings(&self, name: &str) -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(self.len());
        for array in self.column(name, &DataType::Utf8)? {
            let values = array.as_string::<i32>();
            out.extend(
                (0..values.len()).map(|i| values.is_valid(i).then(|| values.value(i).to_string())),
            );
        }
        Ok(out)
    }

    /// Column `name` as `f64`, nulls as 0.
    pub fn f64s_or_zero(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self
            .f64s(name)?
            .into_iter()
            .map(|v| v.unwrap_or(0.0))
            .collect())
    }

    /// Column `name` as `i64`, nulls as 0.
    pub fn i64s_or_zero(&self, name: &str) -> Result<Vec<i64>> {
        Ok(self
            .i64s(name)?
            .into_iter()
            .map(|v| v.unwrap_or(0))
            .collect())
    }

    /// Column `name` as strings, nulls as "".
    pub fn strings_or_empty(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .strings(name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }
}
