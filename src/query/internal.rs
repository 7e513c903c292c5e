//! The SQL the report and the diff run, kept beside the shipped queries as files
//! (`queries/report/*.sql`, `queries/diff/*.sql`), embedded at build time and bound
//! like them: the header's first comment line describes the question and names it in
//! errors, `-- param: key [= default]` declares a parameter used as `${key}`. One
//! extra placeholder, `${query:NAME}`, stands for the shipped query NAME's text, so a
//! report question built on `mfu` reuses that file instead of copying it.
//!
//! Invariants: a value is written into the SQL only as a quoted string literal
//! ([`Param::Text`]) or as integers formatted here ([`Param::Int`], [`Param::Ints`]),
//! so no value can become SQL syntax; every declared parameter must be given or have
//! a default, every given one must be declared (an internal query that does not match
//! its caller is an error naming both, never a silently different question).

use std::collections::BTreeMap;

use super::catalog::{self, Query};
use crate::error::{Error, Result};
use crate::vocab::sql_string;

/// The internal questions, by `<folder>/<file stem>`.
pub const INTERNAL: &[(&str, &str)] = &[
    (
        "diff/run-facts",
        include_str!("../../queries/diff/run-facts.sql"),
    ),
    (
        "diff/samples-by-category",
        include_str!("../../queries/diff/samples-by-category.sql"),
    ),
    (
        "diff/samples-by-name",
        include_str!("../../queries/diff/samples-by-name.sql"),
    ),
    (
        "report/categories-by-shape",
        include_str!("../../queries/report/categories-by-shape.sql"),
    ),
    (
        "report/devices",
        include_str!("../../queries/report/devices.sql"),
    ),
    (
        "report/evidence",
        include_str!("../../queries/report/evidence.sql"),
    ),
    (
        "report/facts",
        include_str!("../../queries/report/facts.sql"),
    ),
    (
        "report/run-ids",
        include_str!("../../queries/report/run-ids.sql"),
    ),
    ("report/skew", include_str!("../../queries/report/skew.sql")),
    (
        "report/timeline-kernels",
        include_str!("../../queries/report/timeline-kernels.sql"),
    ),
    (
        "report/timeline-steps",
        include_str!("../../queries/report/timeline-steps.sql"),
    ),
    (
        "report/top-kernels",
        include_str!("../../queries/report/top-kernels.sql"),
    ),
    (
        "report/unattributed-kernels",
        include_str!("../../queries/report/unattributed-kernels.sql"),
    ),
    (
        "report/utilization",
        include_str!("../../queries/report/utilization.sql"),
    ),
];

/// A parameter value.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    /// A string, always written as a quoted literal (a run id `123` stays text).
    Text(&'a str),
    Int(i64),
    /// A list for `IN (…)`; empty is `NULL`, which matches nothing.
    Ints(&'a [i64]),
}

impl Param<'_> {
    fn render(&self) -> String {
        match self {
            Param::Text(text) => sql_string(text),
            Param::Int(n) => n.to_string(),
            Param::Ints([]) => "NULL".to_string(),
            Param::Ints(list) => list
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// The internal question `name`, parsed (its description names it in errors).
pub fn find(name: &str) -> Result<Query> {
    INTERNAL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, sql)| Query::parse(n, sql, "built-in"))
        .ok_or_else(|| Error::Usage(format!("no internal query {name:?}")))
}

/// The SQL of `name` with `params` bound (defaults for the rest) and every
/// `${query:NAME}` replaced by the built-in shipped query NAME.
pub fn sql(name: &str, params: &[(&str, Param)]) -> Result<String> {
    let query = find(name)?;
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in params {
        if !query.params.contains_key(*key) {
            return Err(Error::Usage(format!(
                "internal query {name} declares no parameter {key:?}"
            )));
        }
        values.insert(key.to_string(), value.render());
    }
    for (key, default) in &query.params {
        if values.contains_key(key) {
            continue;
        }
        let value = default.as_deref().ok_or_else(|| {
            Error::Usage(format!("internal query {name} needs its parameter {key:?}"))
        })?;
        values.insert(key.clone(), catalog::literal(value));
    }
    for (shipped, text) in catalog::BUILTIN {
        let key = format!("query:{shipped}");
        if query.sql.contains(&format!("${{{key}}}")) {
            values.insert(key, text.to_string());
        }
    }
    catalog::substitute(&query.sql, &values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_internal_file_is_embedded_and_described() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let mut on_disk = Vec::new();
        for folder in ["diff", "report"] {
            for entry in std::fs::read_dir(root.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                on_disk.push(format!("{folder}/{stem}"));
            }
        }
        on_disk.sort();
        let embedded: Vec<&str> = INTERNAL.iter().map(|(n, _)| *n).collect();
        assert_eq!(on_disk, embedded);
        for (name, text) in INTERNAL {
            assert!(!find(name).unwrap().description.is_empty(), "{name}");
            assert!(
                text.to_uppercase().contains("ORDER BY"),
                "{name} must order its rows"
            );
        }
    }

    #[test]
    fn values_are_literals_and_mismatches_are_errors() {
        let facts = sql("report/facts", &[("run", Param::Text("1' OR 1=1 --"))]).unwrap();
        assert!(facts.contains("run = '1'' OR 1=1 --'"), "{facts}");
        let kernels = sql(
            "report/timeline-kernels",
            &[
                ("run", Param::Text("123")),
                ("steps", Param::Ints(&[4, -5])),
            ],
        )
        .unwrap();
        assert!(
            kernels.contains("run = '123' AND step IN (4, -5)"),
            "{kernels}"
        );
        let none = sql(
            "report/timeline-kernels",
            &[("run", Param::Text("r")), ("steps", Param::Ints(&[]))],
        )
        .unwrap();
        assert!(none.contains("step IN (NULL)"), "{none}");
        let top = sql("report/top-kernels", &[("run", Param::Text("r"))]).unwrap();
        assert!(top.contains("LIMIT 25"), "{top}");
        let mfu = sql("report/utilization", &[("run", Param::Text("r"))]).unwrap();
        assert!(mfu.contains("WITH span AS") && !mfu.contains("${"), "{mfu}");
        assert!(sql("report/facts", &[])
            .unwrap_err()
            .to_string()
            .contains("needs its parameter \"run\""));
        assert!(sql(
            "report/facts",
            &[("run", Param::Text("r")), ("x", Param::Int(1))]
        )
        .unwrap_err()
        .to_string()
        .contains("declares no parameter \"x\""));
    }
}
