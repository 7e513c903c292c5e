//! Named queries: `queries/<name>.sql`, one question per file.
//!
//! Header convention: the first `-- ` comment line is the one-line description;
//! `-- param: key = default` lines declare parameters, used in the SQL as `${key}`.
//! The shipped files are compiled into the binary (so `trace` works from any
//! directory); a file of the same name in the queries directory takes precedence,
//! so users can edit or add queries without rebuilding.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// The shipped queries, embedded at build time.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "categories-by-shape",
        include_str!("../../queries/categories-by-shape.sql"),
    ),
    ("idle", include_str!("../../queries/idle.sql")),
    (
        "kernels-by-phase",
        include_str!("../../queries/kernels-by-phase.sql"),
    ),
    ("latency", include_str!("../../queries/latency.sql")),
    ("mfu", include_str!("../../queries/mfu.sql")),
    ("overlap", include_str!("../../queries/overlap.sql")),
    ("runs", include_str!("../../queries/runs.sql")),
    ("skew", include_str!("../../queries/skew.sql")),
    ("steps", include_str!("../../queries/steps.sql")),
    ("top-kernels", include_str!("../../queries/top-kernels.sql")),
    (
        "unattributed",
        include_str!("../../queries/unattributed.sql"),
    ),
];

/// A query file, parsed.
#[derive(Debug, Clone)]
pub struct Query {
    pub name: String,
    pub description: String,
    /// Declared parameters and their defaults.
    pub params: BTreeMap<String, Option<String>>,
    pub sql: String,
    /// Where the text came from (file path or `built-in`).
    pub origin: String,
}

impl Query {
    /// Parses the header of `sql`.
    pub fn parse(name: &str, sql: &str, origin: &str) -> Query {
        let mut description = String::new();
        let mut params = BTreeMap::new();
        for line in sql
            .lines()
            .map(str::trim)
            .take_while(|l| l.starts_with("--"))
        {
            let body = line.trim_start_matches('-').trim();
            if let Some(decl) = body.strip_prefix("param:") {
                let (key, default) = match decl.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().to_string())),
                    None => (decl.trim(), None),
                };
                params.insert(key.to_string(), default);
            } else if description.is_empty() {
                description = body.to_string();
            }
        }
        Query {
            name: name.to_string(),
            description,
            params,
            sql: sql.to_string(),
            origin: origin.to_string(),
        }
    }

    /// Ad-hoc SQL: every `${key}` is a parameter without default.
    pub fn adhoc(sql: &str) -> Query {
        let mut query = Query::parse("--sql", sql, "--sql");
        let mut rest = sql;
        while let Some(at) = rest.find("${") {
            let after = &rest[at + 2..];
            let Some(end) = after.find('}') else { break };
            query.params.entry(after[..end].to_string()).or_insert(None);
            rest = &after[end..];
        }
        query
    }
}

/// Every available query: built-ins overlaid by `dir/*.sql`, sorted by name.
pub fn list(dir: Option<&Path>) -> Result<Vec<Query>> {
    let mut all: BTreeMap<String, Query> = BUILTIN
        .iter()
        .map(|(name, sql)| (name.to_string(), Query::parse(name, sql, "built-in")))
        .collect();
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "sql") {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                let sql = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                all.insert(
                    name.clone(),
                    Query::parse(&name, &sql, &path.display().to_string()),
                );
            }
        }
    }
    Ok(all.into_values().collect())
}

/// The query called `name`.
pub fn find(name: &str, dir: Option<&Path>) -> Result<Query> {
    let all = list(dir)?;
    let names: Vec<&str> = all.iter().map(|q| q.name.as_str()).collect();
    let known = names.join(", ");
    all.iter().find(|q| q.name == name).cloned().ok_or_else(|| {
        Error::Usage(format!(
            "no query named {name:?}; available: {known} (see `trace query --list`)"
        ))
    })
}

/// Renders a parameter value as a SQL literal: numbers as they are, text quoted.
fn literal(value: &str) -> String {
    if value.parse::<f64>().is_ok() {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// Substitutes `${key}` placeholders with `given` values or declared defaults.
pub fn bind(query: &Query, given: &[(String, String)]) -> Result<String> {
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    for (key, value) in given {
        if !query.params.contains_key(key) {
            let declared: Vec<&str> = query.params.keys().map(String::as_str).collect();
            return Err(Error::Usage(format!(
                "query {} has no parameter {key:?}; its parameters: {}",
                query.name,
                if declared.is_empty() {
                    "(none)".to_string()
                } else {
                    declared.join(", ")
                }
            )));
        }
        values.insert(key, literal(value));
    }
    let mut sql = query.sql.clone();
    for (key, default) in &query.params {
        let value = match (values.get(key.as_str()), default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => literal(d),
            (None, None) => {
                return Err(Error::Usage(format!(
                    "query {} needs --param {key}=VALUE",
                    query.name
                )))
            }
        };
        sql = sql.replace(&format!("${{{key}}}"), &value);
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_gives_description_and_params() {
        let q = Query::parse(
            "t",
            "-- Top kernels by time\n-- param: top = 20\n-- param: phase\nSELECT ${top}, ${phase}",
            "x",
        );
        assert_eq!(q.description, "Top kernels by time");
        assert_eq!(q.params.get("top"), Some(&Some("20".to_string())));
        assert_eq!(q.params.get("phase"), Some(&None));
        let err = bind(&q, &[]).unwrap_err().to_string();
        assert!(err.contains("--param phase=VALUE"), "{err}");
        let sql = bind(&q, &[("phase".into(), "dec'ode".into())]).unwrap();
        assert!(sql.ends_with("SELECT 20, 'dec''ode'"), "{sql}");
        assert!(bind(&q, &[("nope".into(), "1".into())]).is_err());
    }

    #[test]
    fn every_query_file_is_built_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
            .collect();
        on_disk.sort();
        let builtin: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(on_disk, builtin);
        for (name, sql) in BUILTIN {
            let q = Query::parse(name, sql, "built-in");
            assert!(!q.description.is_empty(), "{name} lacks a description line");
            assert!(
                sql.to_uppercase().contains("ORDER BY"),
                "{name} must order its rows"
            );
        }
    }
}
