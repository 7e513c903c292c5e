//! Fault injection for the commit protocol: every filesystem step of a commit is
//! made to fail in turn (through the `commit::fault` seam), and after each failure
//! a reader going through the public `<table>/run=<key>` paths must see the whole
//! old run; after a success, the whole new one.

use std::collections::BTreeMap;
use std::path::Path;

use super::commit::fault;
use super::{partition_key, Staging};

/// What a reader sees of run `id`: table → (file → content), through the links.
fn view(root: &Path, id: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let key = partition_key(id).unwrap();
    let mut seen = BTreeMap::new();
    let Ok(tables) = std::fs::read_dir(root) else {
        return seen;
    };
    for table in tables.flatten() {
        let name = table.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        let partition = table.path().join(format!("run={key}"));
        let Ok(files) = std::fs::read_dir(&partition) else {
            continue;
        };
        let mut parts = BTreeMap::new();
        for file in files.flatten() {
            let content = std::fs::read_to_string(file.path()).unwrap();
            parts.insert(file.file_name().to_string_lossy().to_string(), content);
        }
        if !parts.is_empty() {
            seen.insert(name, parts);
        }
    }
    seen
}

/// Stages `tables` with `marker` as every part's content and commits.
fn publish(root: &Path, id: &str, marker: &str, tables: &[&str]) -> crate::Result<()> {
    let mut staging = Staging::begin(root, id)?;
    for part in ["0", "1"] {
        staging.claim_part(part)?;
    }
    for table in tables {
        for part in ["0", "1"] {
            std::fs::write(staging.part_path(table, part)?, format!("{marker}:{table}")).unwrap();
        }
    }
    staging.commit()
}

fn expected(marker_of: &[(&str, &str)]) -> BTreeMap<String, BTreeMap<String, String>> {
    marker_of
        .iter()
        .map(|(table, marker)| {
            let parts = (0..2)
                .map(|p| (format!("part-{p}.parquet"), format!("{marker}:{table}")))
                .collect();
            (table.to_string(), parts)
        })
        .collect()
}

#[test]
fn a_failure_at_any_step_leaves_the_old_run_whole() {
    let old = expected(&[("kernels", "old"), ("latency", "old"), ("runs", "old")]);
    // The new ingest replaces kernels and runs, adds steps, and keeps latency.
    let new = expected(&[
        ("kernels", "new"),
        ("latency", "old"),
        ("runs", "new"),
        ("steps", "new"),
    ]);
    let mut failures = 0;
    for n in 1.. {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        fault::fail_at(None);
        publish(root, "exp/1", "old", &["kernels", "latency", "runs"]).unwrap();
        assert_eq!(view(root, "exp/1"), old);
        fault::fail_at(Some(n));
        let result = publish(root, "exp/1", "new", &["kernels", "runs", "steps"]);
        let steps = fault::taken();
        fault::fail_at(None);
        match result {
            Err(e) => {
                failures += 1;
                assert!(e.to_string().contains("injected failure"), "{e}");
                assert_eq!(view(root, "exp/1"), old, "after a failure at step {n}");
                // The next ingest commits cleanly over whatever the failure left.
                publish(root, "exp/1", "new", &["kernels", "runs", "steps"]).unwrap();
                assert_eq!(view(root, "exp/1"), new, "retry after step {n}");
            }
            Ok(()) => {
                assert!(steps < n, "step {n} was taken but did not fail");
                assert_eq!(view(root, "exp/1"), new);
                break;
            }
        }
        let leftovers: Vec<_> =
            std::fs::read_dir(root.join(".runs").join(partition_key("exp/1").unwrap()))
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
        assert!(
            leftovers
                .iter()
                .all(|n| !n.to_string_lossy().starts_with("staging-")),
            "{leftovers:?}"
        );
    }
    assert!(
        failures >= 10,
        "only {failures} commit steps were exercised"
    );
}

#[test]
fn a_failed_first_commit_shows_nothing_and_breaks_nothing() {
    for n in 1.. {
        let root = tempfile::tempdir().unwrap();
        fault::fail_at(Some(n));
        let result = publish(root.path(), "fresh", "new", &["kernels", "runs"]);
        fault::fail_at(None);
        let seen = view(root.path(), "fresh");
        match result {
            Err(_) => assert!(seen.is_empty(), "step {n}: {seen:?}"),
            Ok(()) => {
                assert_eq!(seen, expected(&[("kernels", "new"), ("runs", "new")]));
                break;
            }
        }
        publish(root.path(), "fresh", "new", &["kernels", "runs"]).unwrap();
        assert_eq!(
            view(root.path(), "fresh"),
            expected(&[("kernels", "new"), ("runs", "new")])
        );
    }
}

#[test]
fn a_key_owned_by_another_run_id_is_refused() {
    let root = tempfile::tempdir().unwrap();
    publish(root.path(), "exp/1", "a", &["runs"]).unwrap();
    let key = partition_key("exp/1").unwrap();
    // Forge the record a colliding id would have left.
    std::fs::write(root.path().join(".runs").join(&key).join("run-id"), "other").unwrap();
    let err = publish(root.path(), "exp/1", "b", &["runs"]).unwrap_err();
    assert!(
        err.to_string().contains("map to the same directory"),
        "{err}"
    );
}

#[test]
fn staging_of_a_dead_ingest_is_removed_by_the_next_one() {
    let root = tempfile::tempdir().unwrap();
    let run_dir = root.path().join(".runs").join("r");
    // A killed ingest: staging with an owner file nobody holds a lock on.
    let stale = run_dir.join("staging-999999-1-0");
    std::fs::create_dir_all(stale.join("kernels")).unwrap();
    std::fs::write(stale.join(".owner"), "").unwrap();
    let live = Staging::begin(root.path(), "live").unwrap();
    assert_eq!(live.stale_removed(), 1);
    assert!(!stale.exists());
    // A running ingest's staging (its owner lock held) stays.
    let next = Staging::begin(root.path(), "r").unwrap();
    assert_eq!(next.stale_removed(), 0);
    assert!(root.path().join(".runs/live").read_dir().unwrap().count() == 1);
    drop(live);
    drop(next);
}

/// A writer killed while setting its staging up leaves `.init-staging-…` (never a
/// `staging-…` without a locked owner): kept while young, removed once a minute old.
#[test]
fn staging_killed_during_set_up_is_hidden_and_removed_when_old() {
    let root = tempfile::tempdir().unwrap();
    let run_dir = root.path().join(".runs").join("r");
    let young = run_dir.join(".init-staging-999999-2-0");
    let old = run_dir.join(".init-staging-999999-1-0");
    std::fs::create_dir_all(&young).unwrap();
    std::fs::create_dir_all(&old).unwrap();
    let a_minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
    std::fs::File::open(&old)
        .unwrap()
        .set_modified(a_minute_ago)
        .unwrap();
    let next = Staging::begin(root.path(), "r").unwrap();
    assert_eq!(next.stale_removed(), 1);
    assert!(!old.exists() && young.exists());
    let names: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("staging-"))
            && !names
                .iter()
                .any(|n| n.starts_with(".init-staging-") && n != ".init-staging-999999-2-0"),
        "{names:?}"
    );
    drop(next);
}

/// A sweep killed while removing a dead ingest's staging has already disowned it
/// (renamed to `.removing-…`, perhaps with its `.owner` deleted): the next sweep
/// removes it at once, however young.
#[test]
fn a_removal_killed_halfway_is_finished_by_the_next_sweep() {
    let root = tempfile::tempdir().unwrap();
    let run_dir = root.path().join(".runs").join("r");
    let halfway = run_dir.join(".removing-staging-999999-1-0");
    std::fs::create_dir_all(halfway.join("kernels")).unwrap();
    std::fs::write(halfway.join("kernels/part.parquet"), "x").unwrap();
    let next = Staging::begin(root.path(), "r").unwrap();
    assert_eq!(next.stale_removed(), 1);
    assert!(!halfway.exists());
    drop(next);
    let left: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        left.is_empty(),
        "dropping staging removes it whole: {left:?}"
    );
}
