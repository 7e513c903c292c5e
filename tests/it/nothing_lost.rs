//! Nothing lost, round 2: what a hostile user tried against the promises of
//! docs/SCHEMA.md and docs/MULTI_WRITER.md, one regression test per case, on the
//! real fixtures where the case is about data.

use std::path::Path;

use crate::common::{fixture, ingest, run_ok, trace};

fn dataset(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    ingest(&[fixture("nsys/mini.sqlite")], &data);
    data
}

fn kernels(data: &Path) -> String {
    let out = run_ok(
        trace()
            .args([
                "query",
                "--sql",
                "SELECT count(*) AS n FROM kernels",
                "--format",
                "csv",
                "--data",
            ])
            .arg(data),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `--out` of a reading command never lands inside the dataset (it could replace a
/// live part and break every later query).
#[test]
fn outputs_into_the_dataset_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let part = data.join("kernels/run=mini/part-mini.parquet");
    let before = std::fs::read(&part).unwrap();
    for args in [
        vec![
            "query",
            "--sql",
            "select 1 as x",
            "--format",
            "csv",
            "--out",
        ],
        vec!["query", "top-kernels", "--format", "parquet", "--out"],
        vec!["report", "--out"],
    ] {
        let out = trace()
            .args(&args)
            .arg(&part)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is inside the dataset"), "{args:?}: {err}");
    }
    // Also through a path that only resolves into the dataset.
    let out = trace()
        .args(["query", "--sql", "select 1 as x", "--out"])
        .arg(data.join("runs/../kernels/new.csv"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&part).unwrap(), before);
    assert_eq!(kernels(&data), "n\n4888\n");
}

/// File names that differ only in bytes that are not UTF-8 are two runs, not one
/// that the second silently replaces.
#[cfg(unix)]
#[test]
fn non_utf8_names_stay_distinct_runs() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let a = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xff\xfename.sqlite"));
    let b = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"bad\xfe\xffname.sqlite"));
    std::fs::copy(fixture("nsys/mini.sqlite"), &a).unwrap();
    std::fs::copy(fixture("nsys/tp2.sqlite"), &b).unwrap();
    run_ok(trace().arg("ingest").arg(&a).arg("--out").arg(&data));
    run_ok(trace().arg("ingest").arg(&b).arg("--out").arg(&data));
    let out = run_ok(
        trace()
            .args([
                "query",
                "--sql",
                "SELECT run_id, kernels FROM runs ORDER BY kernels",
                "--format",
                "csv",
                "--data",
            ])
            .arg(&data),
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "run_id,kernels\nbad\\xfe\\xffname,1488\nbad\\xff\\xfename,4888\n"
    );
}

/// A parameter value is a literal: a negative number cannot start a comment, a
/// value cannot leave quotes, a numeric parameter takes numbers only.
#[test]
fn parameter_values_stay_literals() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = run_ok(
        trace()
            .args([
                "query",
                "--sql",
                "select 2 -${a} + 100 as v",
                "--param",
                "a=-1",
                "--format",
                "csv",
                "--data",
            ])
            .arg(&data),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "v\n103\n");
    for (args, says) in [
        (
            vec![
                "query",
                "--sql",
                "select '${a}' as v",
                "--param",
                "a=x' union select 1 --",
            ],
            "inside quotes",
        ),
        (
            vec!["query", "top-kernels", "--param", "top=abc"],
            "is not a number",
        ),
        (
            vec!["query", "top-kernels", "--queries", "/no/such/dir"],
            "no such directory",
        ),
    ] {
        let out = trace()
            .args(&args)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// A threshold of NaN or inf would make every comparison false: "no regression"
/// for a run twice as slow. Refused.
#[test]
fn non_finite_thresholds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ingest(&[fixture("nsys/mini.sqlite")], &data);
    ingest(&[fixture("nsys/mini_range.sqlite")], &data);
    for args in [
        vec!["diff", "mini", "mini_range", "--floor-ms", "NaN"],
        vec!["diff", "mini", "mini_range", "--gate", "inf"],
        vec!["diff", "mini", "mini_range", "--floor-ms=-1"],
        vec![
            "report",
            "--diff",
            "mini",
            "mini_range",
            "--floor-ms",
            "nan",
        ],
    ] {
        let out = trace()
            .args(&args)
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a finite number >= 0"), "{args:?}: {err}");
    }
}

/// A reader that stops after one line (`| head -1`) ends neither a query nor an
/// ingest with an error or a panic: exit 0.
#[test]
fn a_closed_pipe_is_not_a_failure() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    for format in ["table", "csv", "json"] {
        // Far more than a pipe holds (64 KiB), so the writer meets the closed end.
        let query = || {
            let mut cmd = trace();
            cmd.args([
                "query",
                "--sql",
                "SELECT * FROM kernels",
                "--format",
                format,
                "--data",
            ])
            .arg(&data);
            cmd
        };
        let whole = run_ok(&mut query());
        assert!(
            whole.stdout.len() > 1 << 20,
            "{format}: {} bytes",
            whole.stdout.len()
        );
        let mut child = query()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut child = trace()
        .args(["ingest", "--run-id", "again", "--out"])
        .arg(&data)
        .arg(fixture("nsys/hf_capture.sqlite"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the ingest writes anything: every message meets a broken pipe.
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(kernels(&data), "n\n12076\n", "4888 + 7188 kernels");
}

/// A lock left without its owner (by an older writer killed between `mkdir` and
/// writing the owner) is taken at once, not after a silent minute; a writer killed
/// before taking leaves nothing in the way; waiting on a live holder says so.
#[test]
fn commit_locks_never_wait_silently() {
    use std::io::Read;
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let lock = data.join(".runs/mini/lock");
    std::fs::create_dir(&lock).unwrap();
    std::fs::create_dir(data.join(".runs/mini/lock.take-gone-1-2-3")).unwrap();
    let started = Instant::now();
    run_ok(
        trace()
            .arg("ingest")
            .arg(fixture("nsys/mini.sqlite"))
            .arg("--out")
            .arg(&data),
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(!lock.exists());

    // A live holder (this test process): the writer waits and says whom for.
    std::fs::create_dir(&lock).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    std::fs::write(
        lock.join("owner"),
        format!("{}\n{}\ntest-token\n", host.trim(), std::process::id()),
    )
    .unwrap();
    let mut child = trace()
        .arg("ingest")
        .arg(fixture("nsys/mini.sqlite"))
        .arg("--out")
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    std::fs::remove_dir_all(&lock).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("waiting for the commit lock"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert_eq!(kernels(&data), "n\n4888\n");
}

/// Inputs that used to hang or mislead: a FIFO is refused at once (opening it would
/// block), a BOM before Kineto JSON is still JSON, `--threads` has a ceiling.
#[test]
fn fifos_boms_and_thread_counts() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    #[cfg(unix)]
    {
        let fifo = dir.path().join("trace.sqlite");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let started = Instant::now();
            let out = trace()
                .arg("ingest")
                .arg(&fifo)
                .arg("--out")
                .arg(&data)
                .output()
                .unwrap();
            assert!(started.elapsed() < Duration::from_secs(20));
            assert_eq!(out.status.code(), Some(1));
            assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
        }
    }
    // The Kineto fixture behind a UTF-8 byte-order mark.
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(fixture("kineto/mini.kineto.json.gz")).unwrap(),
        ),
        &mut text,
    )
    .unwrap();
    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, [&[0xEF, 0xBB, 0xBF][..], &text].concat()).unwrap();
    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, &text).unwrap();
    let with_bom = ingest(&[bom], &dir.path().join("a"));
    let without = ingest(&[plain], &dir.path().join("b"));
    assert_eq!(
        (with_bom.kernels, with_bom.labelled),
        (without.kernels, without.labelled)
    );
    let out = trace()
        .args(["ingest", "--threads", "100000", "--out"])
        .arg(&data)
        .arg(fixture("nsys/mini.sqlite"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1..=512"));
}

/// A run whose current generation was deleted by hand vanishes from queries but
/// does not break them; re-ingesting mends it; `trace remove` takes a run away.
#[test]
fn a_damaged_run_is_mended_or_removed_with_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    ingest(&[fixture("nsys/tp2.sqlite")], &data);
    let current = std::fs::read_link(data.join(".runs/mini/current")).unwrap();
    std::fs::remove_dir_all(data.join(".runs/mini").join(current)).unwrap();
    assert_eq!(kernels(&data), "n\n1488\n", "the other run still answers");
    // Re-ingesting the damaged run works (it used to fail "changed too fast").
    ingest(&[fixture("nsys/mini.sqlite")], &data);
    assert_eq!(kernels(&data), "n\n6376\n");
    let out = run_ok(
        trace()
            .args(["remove", "--run", "tp2", "--data"])
            .arg(&data),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed run tp2"));
    assert_eq!(kernels(&data), "n\n4888\n");
    assert!(!data.join(".runs/tp2").exists());
    assert!(!data.join("kernels/run=tp2").exists());
    let again = trace()
        .args(["remove", "--run", "tp2", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no run \"tp2\""));
}
