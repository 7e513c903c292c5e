//! Attribution on the real H100 captures equals an independent SQL oracle and the
//! figures in `fixtures/README.md` (from `../shared/traces/README.md`).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use rusqlite::Connection;

use crate::common::{fixture, ingest, kernels_by_shape, read_table};

type Groups = BTreeMap<String, (u64, i64)>;

/// Innermost labelled NVTX range on the launching thread at the API call's start,
/// by plain SQL (NVIDIA's `kernel_helper` rule), grouped by "phase|bsz=..|seq=..".
fn oracle(file: &str) -> Groups {
    oracle_keyed(file, "")
}

/// The oracle per rank: keys "<deviceId>:phase|bsz=..|seq=..".
fn oracle_by_device(file: &str) -> Groups {
    oracle_keyed(file, "k.deviceId || ':' || ")
}

fn oracle_keyed(file: &str, prefix: &str) -> Groups {
    let conn = Connection::open(fixture(file)).unwrap();
    let sql = r#"
        WITH lab AS MATERIALIZED (
          SELECT n.start, n."end", n.globalTid, coalesce(s.value, n.text) AS t
          FROM NVTX_EVENTS n LEFT JOIN StringIds s ON s.id = n.textId
          WHERE n.eventType IN (59, 60) AND coalesce(s.value, n.text) GLOB '*|bsz=*|seq=*'),
        k AS (
          SELECT k."end" - k.start AS dur, r.globalTid AS tid, r.start AS rs, k.deviceId
          FROM CUPTI_ACTIVITY_KIND_KERNEL k LEFT JOIN CUPTI_ACTIVITY_KIND_RUNTIME r
            ON r.correlationId = k.correlationId AND (r.globalTid & -16777216) = k.globalPid),
        a AS (
          SELECT dur, k.deviceId, (SELECT t FROM lab WHERE lab.globalTid = k.tid AND lab.start <= k.rs AND lab."end" >= k.rs
                       ORDER BY lab.start DESC, lab."end" ASC LIMIT 1) AS t
          FROM k)
        SELECT PREFIXcoalesce(replace(substr(t, 1, instr(t, '|iter') - 1), 'trace:', ''), ''), count(*), sum(dur)
        FROM a AS k GROUP BY 1"#
        .replace("PREFIX", prefix);
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            (r.get::<_, u64>(1)?, r.get::<_, i64>(2)?),
        ))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

/// Our attribution keyed like the oracle: "phase|bsz=..|seq=..", "" when unlabelled.
fn groups(kernels: &RecordBatch) -> Groups {
    kernels_by_shape(kernels)
        .into_iter()
        .map(|(shape, v)| {
            let key = shape.map_or(String::new(), |(p, b, s)| format!("{p}|bsz={b}|seq={s}"));
            (key, v)
        })
        .collect()
}

pub(crate) fn check(
    file: &str,
    run: &str,
    labelled: u64,
    unlabelled: u64,
    shapes: usize,
) -> RecordBatch {
    let out = tempfile::tempdir().unwrap();
    let summary = ingest(&[fixture(file)], out.path());
    assert_eq!(
        (summary.labelled, summary.kernels - summary.labelled),
        (labelled, unlabelled)
    );
    let kernels = read_table(out.path(), "kernels", run);
    let ours = groups(&kernels);
    assert_eq!(
        ours,
        oracle(file),
        "{file}: per (phase, bsz, seq) counts and ns"
    );
    assert_eq!(
        ours.len(),
        shapes + 1,
        "{file}: labelled groups + the unlabelled one"
    );
    assert_eq!(ours[""].0, unlabelled);
    read_table(out.path(), "steps", run)
}

#[test]
fn mini_matches_the_reference_attribution() {
    let steps = check("nsys/mini.sqlite", "mini", 3810, 1078, 8);
    // Decode steps are one cudaGraphLaunch each: 55 (seq 128) or 57 (seq 512)
    // graph-node kernels attributed through the launch's correlation id.
    let phase = steps.column_by_name("phase").unwrap().as_string::<i32>();
    let seq = steps
        .column_by_name("seq")
        .unwrap()
        .as_primitive::<Int32Type>();
    let kernels = steps
        .column_by_name("kernels")
        .unwrap()
        .as_primitive::<Int64Type>();
    let graph = steps
        .column_by_name("graph_kernels")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut decode_steps = 0;
    for i in 0..steps.num_rows() {
        if phase.value(i) == "decode" {
            decode_steps += 1;
            let want = if seq.value(i) == 128 { 55 } else { 57 };
            assert_eq!(
                (kernels.value(i), graph.value(i)),
                (want, want),
                "decode step row {i}"
            );
        } else {
            assert_eq!(graph.value(i), 0);
        }
    }
    assert_eq!(decode_steps, 12);
}

#[test]
fn mini_range_matches_the_reference_attribution() {
    check("nsys/mini_range.sqlite", "mini_range", 2540, 1078, 8);
}

#[test]
fn tp2_attributes_each_process_to_its_own_steps() {
    let steps = check("nsys/tp2.sqlite", "tp2", 1104, 384, 8);
    // Correlation ids repeat across the two ranks: the test is only meaningful
    // when some id really is shared.
    let conn = Connection::open(fixture("nsys/tp2.sqlite")).unwrap();
    let shared: i64 = conn
        .query_row(
            "SELECT count(*) FROM (SELECT correlationId FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY correlationId HAVING count(DISTINCT globalPid) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(shared > 0);
    // Every step row sits on one device and one pid, 2 ranks × 24 steps.
    let device = steps
        .column_by_name("device")
        .unwrap()
        .as_primitive::<Int32Type>();
    let pid = steps
        .column_by_name("pid")
        .unwrap()
        .as_primitive::<Int64Type>();
    let pairs: std::collections::BTreeSet<(i32, i64)> = (0..steps.num_rows())
        .map(|i| (device.value(i), pid.value(i)))
        .collect();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(steps.num_rows(), 48);
}

#[test]
fn tp2_overlap_matches_brute_force_intervals() {
    let out = tempfile::tempdir().unwrap();
    ingest(&[fixture("nsys/tp2.sqlite")], out.path());
    let kernels = read_table(out.path(), "kernels", "tp2");
    let steps = read_table(out.path(), "steps", "tp2");
    let col = |b: &RecordBatch, n: &str| {
        b.column_by_name(n)
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone()
    };
    let (k_step, k_start, k_end) = (
        col(&kernels, "step"),
        col(&kernels, "start_ns"),
        col(&kernels, "end_ns"),
    );
    let k_cat = kernels
        .column_by_name("category")
        .unwrap()
        .as_string::<i32>();
    let k_dev = kernels
        .column_by_name("device")
        .unwrap()
        .as_primitive::<Int32Type>();
    let s_dev = steps
        .column_by_name("device")
        .unwrap()
        .as_primitive::<Int32Type>();
    let (s_step, s_busy, s_comm, s_hidden) = (
        col(&steps, "step"),
        col(&steps, "gpu_busy_ns"),
        col(&steps, "comm_ns"),
        col(&steps, "comm_hidden_ns"),
    );
    let mut checked_comm = 0;
    for i in 0..steps.num_rows() {
        // Reference: mark every covered nanosecond of this step's kernels.
        let mine: Vec<usize> = (0..kernels.num_rows())
            .filter(|&j| {
                !k_step.is_null(j)
                    && k_step.value(j) == s_step.value(i)
                    && k_dev.value(j) == s_dev.value(i)
            })
            .collect();
        let lo = mine.iter().map(|&j| k_start.value(j)).min().unwrap();
        let hi = mine.iter().map(|&j| k_end.value(j)).max().unwrap();
        let mut comm = vec![false; (hi - lo) as usize];
        let mut compute = vec![false; (hi - lo) as usize];
        for &j in &mine {
            let target = if k_cat.value(j) == "communication" {
                &mut comm
            } else {
                &mut compute
            };
            for ns in k_start.value(j)..k_end.value(j) {
                target[(ns - lo) as usize] = true;
            }
        }
        let busy = comm
            .iter()
            .zip(&compute)
            .filter(|(a, b)| **a || **b)
            .count() as i64;
        let hidden = comm
            .iter()
            .zip(&compute)
            .filter(|(a, b)| **a && **b)
            .count() as i64;
        let comm_ns = comm.iter().filter(|a| **a).count() as i64;
        assert_eq!(
            (s_busy.value(i), s_comm.value(i), s_hidden.value(i)),
            (busy, comm_ns, hidden),
            "step row {i}"
        );
        checked_comm += (comm_ns > 0) as usize;
    }
    assert_eq!(checked_comm, 48, "every tp2 step all-reduces");
}

#[test]
fn hf_capture_made_by_trace_capture_attributes_every_step() {
    // fixtures/nsys/hf_capture.sqlite: `trace capture --engine hf` of the 2-layer
    // Qwen3-MoE config on an H100, grid 1,4;128,512, 3 iterations, --profile both;
    // labels carry the `trace:` prefix.
    let steps = check("nsys/hf_capture.sqlite", "hf_capture", 4788, 2400, 8);
    assert_eq!(steps.num_rows(), 24);
    let kernels = steps
        .column_by_name("kernels")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert!(kernels.values().iter().all(|&k| k > 0));
}

/// Our own `trace capture --engine hf --deploy tp2` on two H200s (llama3 2-layer,
/// module ranges on): every rank's kernels and GPU ns per shape equal the oracle's.
#[test]
fn hf_tp2_capture_matches_the_oracle_per_rank() {
    let out = tempfile::tempdir().unwrap();
    ingest(&[fixture("nsys/hf_tp2.sqlite")], out.path());
    let kernels = read_table(out.path(), "kernels", "hf_tp2");
    let device = kernels
        .column_by_name("device")
        .unwrap()
        .as_primitive::<Int32Type>();
    let phase = kernels.column_by_name("phase").unwrap().as_string::<i32>();
    let (bsz, seq) = (
        kernels
            .column_by_name("bsz")
            .unwrap()
            .as_primitive::<Int32Type>(),
        kernels
            .column_by_name("seq")
            .unwrap()
            .as_primitive::<Int32Type>(),
    );
    let dur = kernels
        .column_by_name("dur_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut ours = Groups::new();
    for i in 0..kernels.num_rows() {
        let shape = if phase.is_null(i) {
            String::new()
        } else {
            format!(
                "{}|bsz={}|seq={}",
                phase.value(i),
                bsz.value(i),
                seq.value(i)
            )
        };
        let entry = ours
            .entry(format!("{}:{shape}", device.value(i)))
            .or_insert((0, 0));
        entry.0 += 1;
        entry.1 += dur.value(i);
    }
    let oracle = oracle_by_device("nsys/hf_tp2.sqlite");
    assert_eq!(ours, oracle, "per (rank, phase, bsz, seq) kernels and ns");
    // both ranks, 8 shapes each plus their unlabelled kernels, and the same work on each
    assert_eq!(oracle.len(), 2 * (8 + 1));
    for shape in ["prefill|bsz=4|seq=512", "decode|bsz=1|seq=128"] {
        assert_eq!(
            oracle[&format!("0:{shape}")].0,
            oracle[&format!("1:{shape}")].0
        );
    }
}
