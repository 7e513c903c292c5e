//! `docs/SCHEMA.md` documents every column of every table, in that table's section.

use sgl_trace::dataset::schema::{schema_of, INGEST_TABLES, LATENCY_TABLE, MODEL_FLOPS_TABLE};

use crate::common::root;

#[test]
fn schema_doc_covers_every_column() {
    let doc = std::fs::read_to_string(root().join("docs/SCHEMA.md")).unwrap();
    let mut tables: Vec<&str> = INGEST_TABLES.to_vec();
    tables.push(LATENCY_TABLE);
    tables.push(MODEL_FLOPS_TABLE);
    for table in tables {
        let heading = format!("## `{table}`");
        let start = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("no section {heading}"));
        let section = &doc[start + heading.len()..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        let mut columns: Vec<String> = schema_of(table)
            .unwrap()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        columns.push("run".into());
        for column in columns {
            assert!(
                section.contains(&format!("| `{column}` |")),
                "docs/SCHEMA.md: {table}.{column} is not documented"
            );
        }
    }
}
