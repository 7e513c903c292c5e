//! Readers during commits: queries against a run while the same part of it is
//! re-ingested in a loop see the old run or the new one, whole, never an error and
//! never a mix of two generations (each session pins the generations it reads).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use sgl_trace::ingest;
use sgl_trace::query::reader::Reader;

use crate::common::{config, fixture};

/// Queries the readers run, in total (at least).
const QUERIES: usize = 1000;

/// (kernels, steps, runs.kernels) of one answer.
fn answer(reader: &Reader) -> Result<(i64, i64, i64), String> {
    let rows = reader
        .rows(
            "SELECT (SELECT count(*) FROM kernels) AS k, (SELECT count(*) FROM steps) AS s, \
             (SELECT max(kernels) FROM runs) AS r",
            "race",
        )
        .map_err(|e| e.to_string())?;
    let value = |name: &str| -> Result<i64, String> {
        rows.i64s(name)
            .map_err(|e| e.to_string())?
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| format!("no {name}"))
    };
    Ok((value("k")?, value("s")?, value("r")?))
}

#[test]
fn queries_during_reingests_see_old_or_new_never_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two contents for one part: the same file name (part `mini`), one run id.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(fixture("nsys/mini.sqlite"), a.join("mini.sqlite")).unwrap();
    std::fs::copy(fixture("nsys/mini_range.sqlite"), b.join("mini.sqlite")).unwrap();
    let ingest_one = |input: &std::path::Path| {
        let mut cfg = config(vec![input.join("mini.sqlite")], &data);
        cfg.run_id = Some("r".into());
        ingest::run(&cfg).unwrap();
    };
    ingest_one(&a);
    let old = answer(&Reader::open(&data).unwrap()).unwrap();
    ingest_one(&b);
    let new = answer(&Reader::open(&data).unwrap()).unwrap();
    assert_ne!(old, new);
    assert_eq!((old.0, old.2), (4888, 4888));
    assert_eq!((new.0, new.2), (3618, 3618));

    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, commits) = (stop.clone(), commits.clone());
        let (a, b) = (a.clone(), b.clone());
        let data = data.clone();
        std::thread::spawn(move || {
            let mut flip = false;
            while !stop.load(Ordering::Relaxed) {
                let input = if flip { &a } else { &b };
                let mut cfg = config(vec![input.join("mini.sqlite")], &data);
                cfg.run_id = Some("r".into());
                ingest::run(&cfg).unwrap();
                commits.fetch_add(1, Ordering::Relaxed);
                flip = !flip;
            }
        })
    };
    let done = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (data, done) = (data.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while done.fetch_add(1, Ordering::Relaxed) < QUERIES / 2 {
                    // A fresh session each time (a new pin), two questions in it.
                    let reader = Reader::open(&data).map_err(|e| e.to_string());
                    let first = reader.as_ref().map_err(Clone::clone).and_then(answer);
                    let second = reader.as_ref().map_err(Clone::clone).and_then(answer);
                    seen.push((first, second));
                }
                seen
            })
        })
        .collect();
    let answers: Vec<_> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let commits = commits.load(Ordering::Relaxed);
    let (mut olds, mut news) = (0, 0);
    for (first, second) in &answers {
        let first = first
            .as_ref()
            .unwrap_or_else(|e| panic!("a query failed: {e}"));
        let second = second
            .as_ref()
            .unwrap_or_else(|e| panic!("a query failed: {e}"));
        assert!(
            *first == old || *first == new,
            "a mix of generations: {first:?}"
        );
        assert_eq!(first, second, "one session, one generation");
        if *first == old {
            olds += 1;
        } else {
            news += 1;
        }
    }
    println!(
        "{} sessions ({} queries) during {commits} commits: {olds} old, {news} new",
        answers.len(),
        2 * answers.len()
    );
    assert!(2 * answers.len() >= QUERIES);
    assert!(commits >= 2, "the writer committed {commits} times");
}
