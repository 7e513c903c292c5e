//! `trace report`: the numbers behind every section, checked against independent SQL
//! over the fixture dataset, and the page itself (self-contained, every section).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sgl_trace::arch::Arch;
use sgl_trace::query::reader::Reader;
use sgl_trace::report::{self, ReportConfig};
use sgl_trace::vocab::CategoryAxis;

use crate::common::{config, fixture, ingest, root, run_ok, trace};

/// mini (nsys, with model_flops), tp2 (2 GPUs) and mini.kineto, ingested once.
pub fn dataset() -> &'static Path {
    static DATASET: OnceLock<PathBuf> = OnceLock::new();
    DATASET.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("report-dataset-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = config(vec![fixture("nsys/mini.sqlite")], &dir);
        cfg.meta.model = Some("qwen3_moe".into());
        cfg.meta.mconf = Some("2l".into());
        cfg.arch = Some(Arch::load(&root().join("model_conf/qwen3_moe/config_2l.json")).unwrap());
        sgl_trace::ingest::run(&cfg).unwrap();
        ingest(&[fixture("nsys/tp2.sqlite")], &dir);
        ingest(&[fixture("kineto/mini.kineto.json.gz")], &dir);
        dir
    })
}

type Key = (String, i64, i64, String);

/// `sql` (columns phase, bsz, seq, key, v) as a map.
fn by_shape(ds: &Reader, sql: &str) -> BTreeMap<Key, f64> {
    let rows = ds.rows(sql, "test").unwrap();
    let (p, b, s) = (
        rows.strings_or_empty("phase").unwrap(),
        rows.i64s_or_zero("bsz").unwrap(),
        rows.i64s_or_zero("seq").unwrap(),
    );
    let (k, v) = (
        rows.strings_or_empty("key").unwrap(),
        rows.f64s_or_zero("v").unwrap(),
    );
    (0..rows.len())
        .map(|i| ((p[i].clone(), b[i], s[i], k[i].clone()), v[i]))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn breakdown_matches_kernel_sums_over_the_steps_table() {
    let ds = Reader::open(dataset()).unwrap();
    for run in ["mini", "tp2", "mini.kineto"] {
        let shapes = report::data::shapes(&ds, run, CategoryAxis::Block).unwrap();
        assert_eq!(shapes.len(), 8, "{run}");
        // Independent: step count from the steps table, time by category from kernels.
        let expected = by_shape(
            &ds,
            &format!(
                "WITH n AS (SELECT phase, bsz, seq, count(DISTINCT step) AS steps FROM steps \
                 WHERE run = '{run}' AND kernels > 0 GROUP BY phase, bsz, seq) \
                 SELECT k.phase, k.bsz, k.seq, k.category AS key, sum(k.dur_ns) / 1e6 / min(n.steps) AS v \
                 FROM kernels k JOIN n USING (phase, bsz, seq) WHERE k.run = '{run}' \
                 GROUP BY k.phase, k.bsz, k.seq, k.category"
            ),
        );
        let totals = by_shape(
            &ds,
            &format!(
                "SELECT phase, bsz, seq, 'total' AS key, sum(kernel_ns) / 1e6 / count(DISTINCT step) AS v \
                 FROM steps WHERE run = '{run}' AND kernels > 0 GROUP BY phase, bsz, seq"
            ),
        );
        let mut seen = 0;
        for s in &shapes {
            let key = |c: &str| {
                (
                    s.shape.phase.clone(),
                    s.shape.bsz,
                    s.shape.seq.unwrap_or(0),
                    c.to_string(),
                )
            };
            assert!(
                close(s.total_ms, totals[&key("total")]),
                "{run} {:?}",
                s.shape
            );
            for (category, ms) in &s.categories {
                assert!(
                    close(*ms, expected[&key(category)]),
                    "{run} {:?} {category}",
                    s.shape
                );
                seen += 1;
            }
        }
        assert_eq!(seen, expected.len(), "{run}: every (shape, category) drawn");
        assert_eq!(shapes[0].shape.phase, "prefill", "prefill first");
    }
}

#[test]
fn devices_and_skew_match_the_steps_table() {
    let ds = Reader::open(dataset()).unwrap();
    let devices = report::data::devices(&ds, "tp2").unwrap();
    let expected = by_shape(
        &ds,
        "SELECT phase, device AS bsz, 0 AS seq, 'idle' AS key, sum(gpu_idle_ns) / 1e6 / count(*) AS v \
         FROM steps WHERE run = 'tp2' AND device IS NOT NULL GROUP BY phase, device \
         UNION ALL SELECT phase, device, 0, 'exposed', sum(comm_exposed_ns) / 1e6 / count(*) \
         FROM steps WHERE run = 'tp2' AND device IS NOT NULL GROUP BY phase, device \
         UNION ALL SELECT phase, device, 0, 'busy', sum(gpu_busy_ns) / 1e6 / count(*) \
         FROM steps WHERE run = 'tp2' AND device IS NOT NULL GROUP BY phase, device",
    );
    assert_eq!(devices.len(), 4, "2 devices × 2 phases");
    for d in &devices {
        let key = |k: &str| (d.phase.clone(), d.device, 0, k.to_string());
        assert!(close(d.idle_ms, expected[&key("idle")]));
        assert!(close(d.comm_exposed_ms, expected[&key("exposed")]));
        assert!(close(d.busy_ms, expected[&key("busy")]));
        assert!(d.comm_exposed_ms > 0.0, "tp2 all-reduce is exposed: {d:?}");
    }
    let skew = report::data::skew(&ds, "tp2").unwrap();
    assert_eq!(skew.len(), 8);
    let busy = by_shape(
        &ds,
        "SELECT phase, bsz, seq, CAST(device AS VARCHAR) AS key, avg(gpu_busy_ns) / 1e6 AS v \
         FROM steps WHERE run = 'tp2' AND device IS NOT NULL GROUP BY phase, bsz, seq, device",
    );
    for k in &skew {
        let values: Vec<f64> = k.devices.iter().map(|d| d.1).collect();
        for (device, ms) in &k.devices {
            let key = (
                k.shape.phase.clone(),
                k.shape.bsz,
                k.shape.seq.unwrap_or(0),
                device.to_string(),
            );
            assert!(close(*ms, busy[&key]));
        }
        let (max, min) = (
            values.iter().cloned().fold(0.0, f64::max),
            values.iter().cloned().fold(f64::MAX, f64::min),
        );
        assert!(close(k.skew_pct, 100.0 * (max - min) / max));
    }
    assert!(
        report::data::skew(&ds, "mini").unwrap().is_empty(),
        "one device: no skew"
    );
}

#[test]
fn kernel_tables_match_the_shipped_queries() {
    let ds = Reader::open(dataset()).unwrap();
    let top = report::data::top_kernels(&ds, "mini", CategoryAxis::Block, 10).unwrap();
    let shipped = ds
        .rows(
            "SELECT name, category, count(*) AS calls, sum(dur_ns) AS ns FROM kernels WHERE run = 'mini' \
             GROUP BY name, category ORDER BY ns DESC, name LIMIT 10",
            "test",
        )
        .unwrap();
    let (names, ns) = (
        shipped.strings_or_empty("name").unwrap(),
        shipped.f64s_or_zero("ns").unwrap(),
    );
    assert_eq!(top.len(), 10);
    for (i, k) in top.iter().enumerate() {
        assert_eq!(k.name, names[i]);
        assert!(close(k.total_ms, ns[i] / 1e6));
    }
    let total: f64 = ds
        .rows(
            "SELECT sum(dur_ns) AS v FROM kernels WHERE run = 'mini'",
            "test",
        )
        .unwrap()
        .f64s_or_zero("v")
        .unwrap()[0];
    assert!(close(top[0].pct, 100.0 * ns[0] / total));
    let other = report::data::unattributed_kernels(&ds, "mini", 100).unwrap();
    let expected = ds
        .rows("SELECT count(DISTINCT name) AS v FROM kernels WHERE run = 'mini' AND category = 'other'", "test")
        .unwrap()
        .i64s_or_zero("v")
        .unwrap()[0];
    assert_eq!(other.len() as i64, expected);
    assert!(other.iter().all(|k| k.category == "other"));
}

#[test]
fn category_evidence_matches_the_coverage_query() {
    let ds = Reader::open(dataset()).unwrap();
    for run in ["mini", "tp2", "mini.kineto"] {
        let evidence = report::data::evidence(&ds, run).unwrap();
        let coverage = ds
            .rows(
                &format!(
                    "SELECT module_pct, name_pct, none_pct FROM ({}) AS c \
                     WHERE run = '{run}' AND scope = 'all'",
                    include_str!("../../queries/coverage.sql")
                ),
                "test",
            )
            .unwrap();
        let share = |source: &str| {
            evidence
                .iter()
                .find(|(s, _)| s == source)
                .map_or(0.0, |(_, pct)| *pct)
        };
        for (source, column) in [
            ("module", "module_pct"),
            ("name", "name_pct"),
            ("none", "none_pct"),
        ] {
            let want = coverage.f64s_or_zero(column).unwrap()[0];
            // coverage.sql rounds to two decimals.
            assert!(
                (share(source) - want).abs() <= 0.006,
                "{run} {source}: {} vs {want}",
                share(source)
            );
        }
        let sum: f64 = evidence.iter().map(|(_, pct)| pct).sum();
        assert!((sum - 100.0).abs() < 1e-6, "{run}: {sum}");
    }
}

#[test]
fn utilization_matches_the_mfu_query() {
    let ds = Reader::open(dataset()).unwrap();
    let u = report::data::utilization(&ds, "mini").unwrap();
    assert_eq!(u.len(), 8, "mini was ingested with its model config");
    let expected = by_shape(
        &ds,
        "WITH s AS (SELECT phase, bsz, seq, avg(gpu_span_ns) AS span FROM steps WHERE run = 'mini' GROUP BY phase, bsz, seq) \
         SELECT m.phase, m.bsz, m.seq, 'mfu' AS key, 100.0 * m.flops / ((s.span / 1e9) * m.peak_flops) AS v \
         FROM model_flops m JOIN s USING (phase, bsz, seq) WHERE m.run = 'mini'",
    );
    for x in &u {
        let key = (
            x.shape.phase.clone(),
            x.shape.bsz,
            x.shape.seq.unwrap_or(0),
            "mfu".to_string(),
        );
        let mfu = x.mfu_pct.unwrap();
        assert!(
            (mfu - expected[&key]).abs() < 0.001,
            "{x:?} vs {}",
            expected[&key]
        );
    }
    assert!(report::data::utilization(&ds, "tp2").unwrap().is_empty());
}

#[test]
fn timeline_is_the_median_step_and_keeps_every_kernel() {
    let ds = Reader::open(dataset()).unwrap();
    for run in ["mini", "tp2", "mini.kineto"] {
        let timelines = report::timeline::timelines(&ds, run).unwrap();
        assert_eq!(timelines.len(), 8, "{run}");
        for t in &timelines {
            let ids: Vec<String> = t.steps.iter().map(|s| s.to_string()).collect();
            let per_lane = by_shape(
                &ds,
                &format!(
                    "SELECT 'x' AS phase, device AS bsz, stream AS seq, CAST(count(*) AS VARCHAR) AS key, sum(dur_ns) AS v \
                     FROM kernels WHERE run = '{run}' AND step IN ({}) GROUP BY device, stream",
                    ids.join(", ")
                ),
            );
            assert_eq!(t.lanes.len(), per_lane.len(), "{run} {:?}", t.shape);
            let mut kernels = 0;
            for lane in &t.lanes {
                let (key, ns) = per_lane
                    .iter()
                    .find(|(k, _)| k.1 == lane.device && k.2 == lane.stream)
                    .unwrap();
                let drawn: i64 = lane.blocks.iter().map(|b| b.kernel_ns).sum();
                let count: i64 = lane.blocks.iter().map(|b| b.kernels).sum();
                assert_eq!(drawn as f64, *ns);
                assert_eq!(count.to_string(), key.3);
                kernels += count;
            }
            assert_eq!(kernels, t.kernels);
            // The first step drawn has the median GPU span of its shape.
            let spans = ds
                .rows(
                    &format!(
                        "SELECT step, max(gpu_end_ns) - min(gpu_start_ns) AS span FROM steps WHERE run = '{run}' \
                         AND phase = '{}' AND bsz = {} AND seq = {} AND device IS NOT NULL GROUP BY step ORDER BY span, step",
                        t.shape.phase, t.shape.bsz, t.shape.seq.unwrap_or(0)
                    ),
                    "test",
                )
                .unwrap();
            let steps = spans.i64s_or_zero("step").unwrap();
            let pids = if run == "tp2" { 2 } else { 1 };
            assert_eq!(t.steps.len(), pids, "one step per process");
            assert!(
                t.steps.contains(&steps[(steps.len() - 1) / 2]),
                "{run} {:?}",
                t.shape
            );
        }
    }
}

#[test]
fn thinning_merges_small_neighbours_and_keeps_their_time() {
    use sgl_trace::report::timeline::{thin, Block, Lane, MAX_BLOCKS};
    let blocks: Vec<Block> = (0..10_000)
        .map(|i| Block {
            start_ns: i * 10,
            end_ns: i * 10 + 8,
            kernel_ns: 8,
            category: if i % 1000 == 999 { "gemm" } else { "norm" }.into(),
            name: format!("k{i}"),
            kernels: 1,
        })
        .collect();
    let mut lanes = vec![Lane {
        device: 0,
        stream: 7,
        blocks,
    }];
    thin(&mut lanes, 100_000);
    let blocks = &lanes[0].blocks;
    assert!(
        blocks.len() <= MAX_BLOCKS && blocks.len() >= 20,
        "{}",
        blocks.len()
    );
    assert_eq!(blocks.iter().map(|b| b.kernel_ns).sum::<i64>(), 80_000);
    assert_eq!(blocks.iter().map(|b| b.kernels).sum::<i64>(), 10_000);
    assert_eq!(
        blocks.iter().filter(|b| b.category == "gemm").count(),
        10,
        "categories never merge"
    );
}

#[test]
fn page_is_self_contained_and_has_every_section() {
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{}.html", std::process::id()));
    let summary = report::run(&ReportConfig {
        data_dir: dataset().to_path_buf(),
        runs: vec![],
        out: out.clone(),
        diff: Some(("mini".into(), "mini.kineto".into())),
        gate_pct: 5.0,
        floor_ms: 0.005,
        by: CategoryAxis::Block,
    })
    .unwrap();
    assert_eq!(
        summary.runs,
        ["mini", "mini.kineto"],
        "--diff alone shows the compared runs"
    );
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.len() as u64, summary.bytes);
    for forbidden in ["<script", "http://", "https://", "src=", "@import", "url("] {
        assert!(!page.contains(forbidden), "page contains {forbidden:?}");
    }
    for id in [
        "facts",
        "breakdown",
        "scaling",
        "timeline",
        "comm",
        "kernels",
        "diff",
    ] {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    // Every bar segment carries its number: one for mini's decode bsz=4 seq=512 attention.
    let ds = Reader::open(dataset()).unwrap();
    let shapes = report::data::shapes(&ds, "mini", CategoryAxis::Block).unwrap();
    let s = shapes
        .iter()
        .find(|s| s.shape.label() == "decode bsz=4 seq=512")
        .unwrap();
    let attention = s.categories.iter().find(|c| c.0 == "attention").unwrap().1;
    let title = format!("bsz=4 seq=512 · attention: {}", report::svg::num(attention));
    assert!(page.contains(&title), "{title}");
    assert!(
        page.contains("NVIDIA H100 80GB HBM3") && page.contains("2025.3.2.0"),
        "run facts"
    );
    assert!(page.len() < 10 << 20);
}

#[test]
fn cli_writes_the_page_and_refuses_unknown_runs() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-report-{}.html", std::process::id()));
    let result = run_ok(
        trace()
            .args(["report", "--run", "tp2", "--data"])
            .arg(dataset())
            .arg("--out")
            .arg(&out),
    );
    assert!(String::from_utf8_lossy(&result.stderr).contains("wrote"));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("gpu 1 · stream"),
        "tp2 timeline has device 1"
    );
    let bad = trace()
        .args(["report", "--run", "nope", "--data"])
        .arg(dataset())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no run \"nope\""));
}
