//! Fuzz entry points: one function per target, each taking raw fuzzer bytes.
//!
//! Used by the cargo-fuzz targets in `fuzz/fuzz_targets/` (nightly) and included by
//! path into `tests/it/fuzz_corpus.rs`, which replays every committed corpus file on
//! the stable toolchain, so both run exactly this code.
//!
//! Invariants checked on top of "never panics": an ingest that returns (Ok or Err)
//! leaves no `.staging-*` directory and no half-run behind; a successful ingest
//! reports non-negative kernel time; accepted step labels and grid points have
//! positive shapes that the label parser accepts back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rusqlite::Connection;
use sgl_trace::attribute::{Label, Rules};
use sgl_trace::capture::compose::Composed;
use sgl_trace::capture::grid;
use sgl_trace::ingest::{self, IngestConfig, RunMeta};

/// A fresh scratch directory per call (the replay test runs calls in parallel).
fn scratch() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "trace-fuzz-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| Rules::builtin().expect("built-in rules parse"))
}

/// Ingests `input` into `<dir>/out` and checks what any ingest must leave behind.
fn ingest_checked(input: &Path, dir: &Path) {
    let out = dir.join("out");
    let cfg = IngestConfig {
        inputs: vec![input.to_path_buf()],
        run_id: Some("fuzz".into()),
        rules: rules().clone(),
        out_dir: out.clone(),
        nsys: None,
        progress: false,
        meta: RunMeta::default(),
        arch: None,
    };
    let result = ingest::run(&cfg);
    if let Ok(entries) = std::fs::read_dir(&out) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            assert!(
                !name.starts_with(".staging"),
                "ingest left {name} behind ({result:?})"
            );
        }
    }
    if let Ok(summary) = result {
        assert!(summary.kernel_ns >= 0, "negative kernel time {summary:?}");
        assert!(
            summary.labelled_ns >= 0,
            "negative labelled time {summary:?}"
        );
        for (category, (_, ns)) in &summary.by_category {
            assert!(*ns >= 0, "negative time in {category}: {summary:?}");
        }
    }
}

/// Raw bytes as an nsys SQLite export.
pub fn nsys_sqlite_bytes(data: &[u8]) {
    let dir = scratch();
    let input = dir.join("input.sqlite");
    std::fs::write(&input, data).expect("write input");
    ingest_checked(&input, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Raw bytes as a Kineto JSON (or gzip) trace.
pub fn kineto_json_bytes(data: &[u8]) {
    let dir = scratch();
    let input = dir.join("input.json");
    std::fs::write(&input, data).expect("write input");
    ingest_checked(&input, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads fuzzer bytes as a stream of small choices.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn done(&self) -> bool {
        self.0.is_empty()
    }

    /// Mostly plausible times, sometimes the extremes.
    fn time(&mut self) -> i64 {
        match self.byte() % 8 {
            0 => i64::MAX - i64::from(self.byte()),
            1 => i64::MIN + i64::from(self.byte()),
            2 => -i64::from(self.byte()),
            _ => i64::from(u16::from_le_bytes([self.byte(), self.byte()])) * 10,
        }
    }

    fn small(&mut self) -> i64 {
        match self.byte() % 6 {
            0 => i64::MAX,
            1 => -1,
            _ => i64::from(self.byte() % 8),
        }
    }

    fn text(&mut self) -> String {
        const POOL: &[&str] = &[
            "prefill|bsz=2|seq=64|iter=0",
            "decode|bsz=2|seq=64|iter=1",
            "decode|bsz=-1|seq=64",
            "decode|bsz=abc|seq=64",
            "decode|bsz=99999999999999999999|seq=64",
            "trace:prefill|bsz=0|seq=1",
            "layer0",
            "fused_moe_kernel",
            "cudaLaunchKernel_v7000",
            "cudaGraphLaunch_v10000",
            "ncclDevKernel_AllReduce_Sum_bf16_RING_LL",
            "",
        ];
        let pick = self.byte();
        if usize::from(pick) < POOL.len() * 16 {
            POOL[usize::from(pick) % POOL.len()].to_string()
        } else {
            let len = usize::from(self.byte() % 24);
            let bytes: Vec<u8> = (0..len).map(|_| self.byte()).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

const GLOBAL_PID: i64 = (1 << 48) | (100 << 24);
const GLOBAL_TID: i64 = GLOBAL_PID | 101;

/// Fuzzer bytes decoded into rows of a small nsys-shaped export (strings, runtime
/// calls, kernels, memcpys, NVTX ranges), so mutations reach the importer's row
/// logic instead of SQLite's header checks.
pub fn nsys_rows(data: &[u8]) {
    let dir = scratch();
    let input = dir.join("rows.sqlite");
    build_rows(&input, data).expect("build synthetic export");
    ingest_checked(&input, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

fn build_rows(path: &Path, data: &[u8]) -> rusqlite::Result<()> {
    let mut c = Connection::open(path)?;
    c.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE META_DATA_EXPORT (name TEXT NOT NULL, value TEXT);
         INSERT INTO META_DATA_EXPORT VALUES ('EXPORT_SCHEMA_VERSION', '3.20.3');
         CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER NOT NULL, end INTEGER NOT NULL,
             eventClass INTEGER NOT NULL, globalTid INTEGER, correlationId INTEGER,
             nameId INTEGER NOT NULL, returnValue INTEGER NOT NULL, callchainId INTEGER);
         CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER NOT NULL, end INTEGER NOT NULL,
             deviceId INTEGER NOT NULL, contextId INTEGER NOT NULL, streamId INTEGER NOT NULL,
             correlationId INTEGER, globalPid INTEGER, demangledName INTEGER NOT NULL,
             shortName INTEGER NOT NULL, gridX INTEGER, gridY INTEGER, gridZ INTEGER,
             blockX INTEGER, blockY INTEGER, blockZ INTEGER, registersPerThread INTEGER,
             staticSharedMemory INTEGER, dynamicSharedMemory INTEGER, graphNodeId INTEGER);
         CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (start INTEGER NOT NULL, end INTEGER NOT NULL,
             deviceId INTEGER NOT NULL, streamId INTEGER NOT NULL, correlationId INTEGER,
             globalPid INTEGER, bytes INTEGER NOT NULL, copyKind INTEGER, graphNodeId INTEGER);
         CREATE TABLE NVTX_EVENTS (start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL,
             text TEXT, globalTid INTEGER, textId INTEGER, domainId INTEGER);",
    )?;
    let tx = c.transaction()?;
    let mut choices = Choices(data);
    for id in 0..8i64 {
        tx.execute(
            "INSERT INTO StringIds VALUES (?1, ?2)",
            (id, choices.text()),
        )?;
    }
    let mut rows = 0;
    while !choices.done() && rows < 256 {
        rows += 1;
        let (start, end) = (choices.time(), choices.time());
        match choices.byte() % 4 {
            0 => {
                tx.execute(
                    "INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (?1, ?2, 0, ?3, ?4, ?5, 0, NULL)",
                    (start, end, GLOBAL_TID, choices.small(), choices.small()),
                )?;
            }
            1 => {
                let (corr, name) = (choices.small(), choices.small());
                let (grid, block, node) = (choices.small(), choices.small(), choices.small());
                tx.execute(
                    "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES
                     (?1, ?2, 0, 1, 7, ?3, ?4, ?5, ?5, ?6, 1, 1, ?7, 1, 1, 32, 0, 0, ?8)",
                    (start, end, corr, GLOBAL_PID, name, grid, block, node),
                )?;
            }
            2 => {
                tx.execute(
                    "INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES (?1, ?2, 0, 7, ?3, ?4, ?5, 1, NULL)",
                    (start, end, choices.small(), GLOBAL_PID, choices.time()),
                )?;
            }
            _ => {
                let kind = [59, 60, 34, 33][usize::from(choices.byte() % 4)];
                let text = choices.text();
                let text_id = choices.small();
                tx.execute(
                    "INSERT INTO NVTX_EVENTS VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                    (start, end, kind, text, GLOBAL_TID, text_id),
                )?;
            }
        }
    }
    tx.commit()
}

/// Bytes as a step label: an accepted label has positive shapes, engine counts
/// that are possible, and (with a seq) survives being written back in the
/// convention and parsed again.
pub fn label(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(label) = Label::parse(&text) {
        assert!(
            label.bsz > 0 && label.seq.is_none_or(|s| s > 0),
            "{text:?} → {label:?}"
        );
        if let Some(tokens) = label.tokens {
            assert!(tokens.possible(label.bsz as u64), "{text:?} → {label:?}");
        }
        let Some(seq) = label.seq else {
            assert!(
                label.tokens.is_some(),
                "{text:?}: only engine markers lack seq"
            );
            return;
        };
        let iter = label.iter.map(|i| format!("|iter={i}")).unwrap_or_default();
        let again = format!("{}|bsz={}|seq={seq}{iter}", label.phase, label.bsz);
        let again = Label::parse(&again);
        let shape = |l: &Label| (l.phase.clone(), l.bsz, l.seq, l.iter);
        assert_eq!(again.as_ref().map(shape), Some(shape(&label)), "{text:?}");
    }
}

/// Bytes as one composed capture config file (YAML).
pub fn compose(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut composed = Composed::default();
    if composed.merge_text(&text, Path::new("fuzz.yaml")).is_ok() {
        let _ = composed.sglang_flags();
    }
}

/// Bytes as a grid file: every accepted point is unique and is a shape the label
/// parser accepts, so no captured step is later dropped as unlabelled.
pub fn grid(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(points) = grid::parse(&text, Path::new("fuzz.csv")) {
        let unique: std::collections::HashSet<_> = points.iter().collect();
        assert_eq!(unique.len(), points.len(), "duplicate points from {text:?}");
        for p in &points {
            let label = format!("decode|bsz={}|seq={}", p.bsz, p.seq);
            assert!(Label::parse(&label).is_some(), "{label} from {text:?}");
        }
    }
}
