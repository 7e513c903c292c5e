//! What this build is: the version, the commit it was built from (`build.rs`), and the
//! dataset schema version it writes — the `--version` text, also shown by `trace doctor`.

use std::sync::LazyLock;

use crate::dataset::schema::DATASET_SCHEMA_VERSION;

/// `0.1.0 (commit 0123abcd4567, dataset schema 2)`.
pub fn version_text() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} (commit {}, dataset schema {DATASET_SCHEMA_VERSION})",
            env!("CARGO_PKG_VERSION"),
            env!("TRACE_COMMIT")
        )
    });
    TEXT.as_str()
}
