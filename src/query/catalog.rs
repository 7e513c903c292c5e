//! Named queries: `queries/<name>.sql`, one question per file.
//!
//! Header convention: the first `-- ` comment line is the one-line description;
//! `-- param: key = default` lines declare parameters, used in the SQL as `${key}`;
//! `-- param: key = default {a, b}` also lists the only values the key accepts;
//! `-- empty: hint` is what to tell a user whose answer has no rows.
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
    ("coverage", include_str!("../../queries/coverage.sql")),
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
    /// The values a parameter accepts, where its declaration lists them.
    pub choices: BTreeMap<String, Vec<String>>,
    /// Printed (to stderr) when the answer has no rows: what the query needs.
    pub empty_hint: Option<String>,
    pub sql: String,
    /// Where the text came from (file path or `built-in`).
    pub origin: String,
}

impl Query {
    /// Parses the header of `sql`.
    pub fn parse(name: &str, sql: &str, origin: &str) -> Query {
        let mut description = String::new();
        let mut params = BTreeMap::new();
        let mut choices = BTreeMap::new();
        let mut empty_hint = None;
        for line in sql
            .lines()
            .map(str::trim)
            .take_while(|l| l.starts_with("--"))
        {
            let body = line.trim_start_matches('-').trim();
            if let Some(decl) = body.strip_prefix("param:") {
                let (key, default) = match decl.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim())),
                    None => (decl.trim(), None),
                };
                let default = match default.and_then(|d| d.strip_suffix('}')?.split_once('{')) {
                    Some((default, listed)) => {
                        let listed = listed.split(',').map(|c| c.trim().to_string());
                        choices.insert(key.to_string(), listed.collect());
                        Some(default.trim())
                    }
                    None => default,
                };
                params.insert(key.to_string(), default.map(str::to_string));
            } else if let Some(hint) = body.strip_prefix("empty:") {
                empty_hint = Some(hint.trim().to_string());
            } else if description.is_empty() {
                description = body.to_string();
            }
        }
        Query {
            name: name.to_string(),
            description,
            params,
            choices,
            empty_hint,
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

/// Renders a parameter value as a SQL literal: a finite decimal number as it is
/// (`12`, `-0.5`, `1e3`), anything else — `inf`, `NaN`, `0x10`, text — as a quoted
/// string, so a value can never become SQL syntax.
pub(super) fn literal(value: &str) -> String {
    if is_sql_number(value) && value.starts_with('-') {
        // `2 -${a}` with a = -1 must not become `2 --1` (a comment).
        format!("({value})")
    } else if is_sql_number(value) {
        value.to_string()
    } else {
        crate::vocab::sql_string(value)
    }
}

/// `-?digits[.digits][e[+-]digits]`, finite as an f64.
fn is_sql_number(value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok && value.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Binds `${key}` placeholders to `given` values or declared defaults, as SQL
/// literals, in one pass over the query text: a value is never scanned again, so a
/// value containing `${other}` stays that text.
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
        let numeric_default = query
            .params
            .get(key)
            .and_then(|d| d.as_deref())
            .is_some_and(is_sql_number);
        if numeric_default && !is_sql_number(value) {
            return Err(Error::Usage(format!(
                "query {}: {key}={value:?} is not a number (its default is {})",
                query.name,
                query
                    .params
                    .get(key)
                    .and_then(|d| d.as_deref())
                    .unwrap_or_default()
            )));
        }
        if let Some(allowed) = query.choices.get(key) {
            if !allowed.contains(value) {
                return Err(Error::Usage(format!(
                    "query {}: {key}={value:?} is not one of {}",
                    query.name,
                    allowed.join(", ")
                )));
            }
        }
        values.insert(key, literal(value));
    }
    for (key, default) in &query.params {
        if values.contains_key(key.as_str()) {
            continue;
        }
        match default {
            Some(d) => {
                values.insert(key, literal(d));
            }
            None => {
                return Err(Error::Usage(format!(
                    "query {} needs --param {key}=VALUE",
                    query.name
                )))
            }
        }
    }
    let values: BTreeMap<String, String> = values
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    substitute(&query.sql, &values)
}

/// Replaces each `${key}` of `sql` whose key `values` has, in one pass over the text:
/// a value is never scanned again, so a value containing `${other}` stays that text.
/// The pass reads SQL's lexical structure: a placeholder in a comment stays as it
/// is, and one inside a quoted string or identifier is an error (a value spliced
/// there could close the quotes and become SQL).
pub fn substitute(sql: &str, values: &BTreeMap<String, String>) -> Result<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        Quoted(char),
        LineComment,
        BlockComment,
    }
    let mut out = String::with_capacity(sql.len());
    let mut state = State::Code;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let next = rest[c.len_utf8()..].chars().next();
        if rest.starts_with("${") {
            let after = &rest[2..];
            if let Some((key, close)) = after.find('}').map(|close| (&after[..close], close)) {
                if let Some(value) = values.get(key) {
                    match state {
                        State::Code => {
                            out.push_str(value);
                            rest = &after[close + 1..];
                            continue;
                        }
                        State::Quoted(_) => {
                            return Err(Error::Usage(format!(
                                "parameter ${{{key}}} is inside quotes; write it bare (values are quoted for you: ${{{key}}}, not '${{{key}}}')"
                            )))
                        }
                        State::LineComment | State::BlockComment => {}
                    }
                }
            }
        }
        state = match (state, c, next) {
            (State::Code, '\'' | '"', _) => State::Quoted(c),
            (State::Code, '-', Some('-')) => State::LineComment,
            (State::Code, '/', Some('*')) => State::BlockComment,
            (State::Quoted(q), c, Some(n)) if c == q && n == q => {
                // A doubled quote is the quote character itself.
                out.push(c);
                out.push(c);
                rest = &rest[2 * c.len_utf8()..];
                continue;
            }
            (State::Quoted(q), c, _) if c == q => State::Code,
            (State::LineComment, '\n', _) => State::Code,
            (State::BlockComment, '*', Some('/')) => {
                out.push_str("*/");
                rest = &rest[2..];
                state = State::Code;
                continue;
            }
            (state, _, _) => state,
        };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
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
    fn values_never_become_comments_or_leave_quotes() {
        let q = Query::adhoc("select 2 -${a} + 100 as v");
        let sql = bind(&q, &[("a".into(), "-1".into())]).unwrap();
        assert_eq!(sql, "select 2 -(-1) + 100 as v");
        let q = Query::adhoc("select '${a}' as v");
        let err = bind(&q, &[("a".into(), "x' union select 1 --".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside quotes"), "{err}");
        let q = Query::adhoc("select \"${a}\" from t");
        assert!(bind(&q, &[("a".into(), "x".into())]).is_err());
        // Comments keep their text; doubled quotes and block comments are read right.
        let q = Query::adhoc("-- uses ${a}\nselect 'it''s', /* ${a} */ ${a} as v");
        let sql = bind(&q, &[("a".into(), "7".into())]).unwrap();
        assert_eq!(sql, "-- uses ${a}\nselect 'it''s', /* ${a} */ 7 as v");
    }

    #[test]
    fn listed_choices_are_the_only_values() {
        let q = Query::parse(
            "t",
            "-- x\n-- param: by = block {block, name}\nSELECT ${by}",
            "x",
        );
        assert_eq!(q.params.get("by"), Some(&Some("block".to_string())));
        assert_eq!(
            bind(&q, &[]).unwrap(),
            "-- x\n-- param: by = block {block, name}\nSELECT 'block'"
        );
        assert!(bind(&q, &[("by".into(), "name".into())])
            .unwrap()
            .ends_with("SELECT 'name'"));
        let err = bind(&q, &[("by".into(), "kind".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not one of block, name"), "{err}");
    }

    #[test]
    fn values_are_bound_once_and_typed() {
        let q = Query::parse(
            "t",
            "-- x\n-- param: a\n-- param: b = one\nSELECT ${a} AS a, ${b} AS b",
            "x",
        );
        // A value naming another placeholder is text, never expanded again.
        let sql = bind(
            &q,
            &[("a".into(), "${b}".into()), ("b".into(), "1) OR (1".into())],
        )
        .unwrap();
        assert!(
            sql.ends_with("SELECT '${b}' AS a, '1) OR (1' AS b"),
            "{sql}"
        );
        let sql = bind(&q, &[("b".into(), "${a}".into()), ("a".into(), "x".into())]).unwrap();
        assert!(sql.ends_with("SELECT 'x' AS a, '${a}' AS b"), "{sql}");
        for (value, bound) in [
            ("inf", "'inf'"),
            ("NaN", "'NaN'"),
            ("-infinity", "'-infinity'"),
            ("1e999", "'1e999'"),
            ("0x10", "'0x10'"),
            ("12", "12"),
            ("-0.5", "(-0.5)"),
            ("2E3", "2E3"),
            (".5", "'.5'"),
        ] {
            assert_eq!(literal(value), bound, "{value}");
        }
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
