//! `trace diff`: rows against independent SQL, a self-diff that changes nothing, and
//! copies of real runs with one category's kernels made 1.2× slower in the Parquet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch, RecordBatchReader};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use sgl_trace::diff::{compare, Change, DiffConfig, RowKind};
use sgl_trace::query::reader::Reader;

use crate::common::{files_under, trace};
use crate::report::dataset;

fn config(data: &Path, base: &str, new: &str) -> DiffConfig {
    DiffConfig {
        data_dir: data.to_path_buf(),
        base: base.into(),
        new: new.into(),
        gate_pct: 5.0,
        floor_ms: 0.005,
    }
}

/// Kernel rows of `category` made `factor`× longer (end moves, start stays).
fn scale_category(batch: &RecordBatch, category: &str, factor: f64) -> RecordBatch {
    let cats = batch.column_by_name("category").unwrap().as_string::<i32>();
    let start = batch
        .column_by_name("start_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    let dur = batch
        .column_by_name("dur_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    let hit = |i: usize| cats.value(i) == category;
    let new_dur: Int64Array = (0..batch.num_rows())
        .map(|i| {
            Some(if hit(i) {
                (dur.value(i) as f64 * factor).round() as i64
            } else {
                dur.value(i)
            })
        })
        .collect();
    let new_end: Int64Array = (0..batch.num_rows())
        .map(|i| Some(start.value(i) + new_dur.value(i)))
        .collect();
    let schema = batch.schema();
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match f.name().as_str() {
            "dur_ns" => Arc::new(new_dur.clone()) as Arc<dyn Array>,
            "end_ns" => Arc::new(new_end.clone()) as Arc<dyn Array>,
            _ => batch.column(i).clone(),
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// `step_categories` rows of `category` with their time × `factor` (as
/// [`scale_category`] scales each kernel, up to its per-kernel rounding).
fn scale_summary(batch: &RecordBatch, category: &str, factor: f64) -> RecordBatch {
    let cats = batch.column_by_name("category").unwrap().as_string::<i32>();
    let scaled = |name: &str| -> Arc<dyn Array> {
        let ns = batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Int64Type>();
        Arc::new(
            (0..batch.num_rows())
                .map(|i| {
                    Some(if cats.value(i) == category {
                        (ns.value(i) as f64 * factor).round() as i64
                    } else {
                        ns.value(i)
                    })
                })
                .collect::<Int64Array>(),
        )
    };
    let schema = batch.schema();
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match f.name().as_str() {
            "gpu_ns" | "module_ns" => scaled(f.name()),
            _ => batch.column(i).clone(),
        })
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// A copy of the fixture dataset plus `<run>.slow`: `run` with `category` × `factor`.
fn dataset_with_slow_copy(run: &str, category: &str, factor: f64) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("diff-{}-{run}-{category}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let src = dataset();
    for file in files_under(src) {
        let rel = file.strip_prefix(src).unwrap();
        let mut targets = vec![dir.join(rel)];
        let marker = format!("run={run}");
        if rel.components().any(|c| c.as_os_str() == marker.as_str()) {
            let renamed: PathBuf = rel
                .components()
                .map(|c| {
                    if c.as_os_str() == marker.as_str() {
                        format!("run={run}.slow").into()
                    } else {
                        PathBuf::from(c.as_os_str())
                    }
                })
                .collect();
            targets.push(dir.join(renamed));
        }
        for (i, target) in targets.iter().enumerate() {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            let is_slow_kernels = i == 1 && rel.starts_with("kernels");
            let is_slow_summary = i == 1 && rel.starts_with("step_categories");
            if !is_slow_kernels && !is_slow_summary {
                std::fs::copy(&file, target).unwrap();
                continue;
            }
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            let schema = reader.schema();
            let mut writer =
                ArrowWriter::try_new(std::fs::File::create(target).unwrap(), schema, None).unwrap();
            for batch in reader {
                let batch = batch.unwrap();
                let slow = if is_slow_summary {
                    scale_summary(&batch, category, factor)
                } else {
                    scale_category(&batch, category, factor)
                };
                writer.write(&slow).unwrap();
            }
            writer.close().unwrap();
        }
    }
    dir
}

#[test]
fn rows_match_categories_by_shape_and_the_steps_table() {
    let ds = Reader::open(dataset()).unwrap();
    let c = compare(&ds, &config(dataset(), "mini", "mini.kineto")).unwrap();
    let sql = "SELECT phase, bsz, seq, category AS key, sum(dur_ns) / 1e6 / min(n) AS v FROM kernels \
               JOIN (SELECT run AS r, phase AS p, bsz AS b, seq AS s, count(*) AS n FROM steps GROUP BY run, phase, bsz, seq) \
               ON run = r AND phase = p AND bsz = b AND seq = s WHERE run = 'RUN' GROUP BY phase, bsz, seq, category \
               UNION ALL SELECT phase, bsz, seq, 'total', avg(kernel_ns) / 1e6 FROM steps WHERE run = 'RUN' GROUP BY phase, bsz, seq";
    let expected = |run: &str| -> BTreeMap<(String, i64, Option<i64>, String), f64> {
        let rows = ds.rows(&sql.replace("RUN", run), "test").unwrap();
        let (p, b, s, k, v) = (
            rows.strings_or_empty("phase").unwrap(),
            rows.i64s_or_zero("bsz").unwrap(),
            rows.i64s("seq").unwrap(),
            rows.strings_or_empty("key").unwrap(),
            rows.f64s_or_zero("v").unwrap(),
        );
        (0..rows.len())
            .map(|i| ((p[i].clone(), b[i], s[i], k[i].clone()), v[i]))
            .collect()
    };
    let (base, new) = (expected("mini"), expected("mini.kineto"));
    let mut checked = 0;
    for r in c.rows.iter().filter(|r| r.kind != RowKind::Kernel) {
        let key = (
            r.shape.phase.clone(),
            r.shape.bsz,
            r.shape.seq,
            r.key.clone(),
        );
        assert!(
            (r.base_ms - base.get(&key).copied().unwrap_or(0.0)).abs() < 1e-9,
            "{r:?}"
        );
        assert!(
            (r.new_ms - new.get(&key).copied().unwrap_or(0.0)).abs() < 1e-9,
            "{r:?}"
        );
        assert!(
            r.ci_low_ms <= r.delta_ms + 1e-12 && r.delta_ms <= r.ci_high_ms + 1e-12,
            "{r:?}"
        );
        assert_eq!((r.base_steps, r.new_steps), (3, 3));
        checked += 1;
    }
    assert_eq!(checked, base.len().max(new.len()));
    // Two captures of one model pick different GEMM kernels: kernel rows move beyond the
    // gate, categories do not, and kernel rows never gate.
    assert!(c.rows.iter().any(|r| r.kind == RowKind::Kernel
        && r.change == Change::Slower
        && r.pct.is_some_and(|p| p > 40.0)));
    assert_eq!(c.regressions().count(), 0);
    // Kernel rows of a shape add up to its total.
    let kernels: f64 = c
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::Kernel && r.shape.label() == "decode bsz=1 seq=128")
        .map(|r| r.base_ms)
        .sum();
    let total = c
        .rows
        .iter()
        .find(|r| r.kind == RowKind::Total && r.shape.label() == "decode bsz=1 seq=128")
        .unwrap();
    assert!((kernels - total.base_ms).abs() < 1e-9);
}

#[test]
fn a_run_against_itself_changes_nothing_and_exits_0() {
    for run in ["mini", "tp2", "mini.kineto"] {
        let out = trace()
            .args(["diff", run, run, "--data"])
            .arg(dataset())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{run}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("no regression beyond the 5% gate"),
            "{stdout}"
        );
        let ds = Reader::open(dataset()).unwrap();
        let c = compare(&ds, &config(dataset(), run, run)).unwrap();
        assert!(c.rows.len() > 20);
        assert!(c.rows.iter().all(|r| r.delta_ms == 0.0
            && r.change == Change::Same
            && r.ci_low_ms <= 0.0
            && r.ci_high_ms >= 0.0));
    }
}

#[test]
fn one_category_slower_by_20_percent_exits_1_naming_category_and_shapes() {
    for (run, category) in [
        ("mini", "gemm"),
        ("mini.kineto", "elementwise"),
        ("tp2", "gemm"),
    ] {
        let data = dataset_with_slow_copy(run, category, 1.2);
        let slow = format!("{run}.slow");
        let out = trace()
            .args(["diff", run, &slow, "--data"])
            .arg(&data)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{run}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "a regression is not an error: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("REGRESSION"), "{stdout}");
        let ds = Reader::open(&data).unwrap();
        let c = compare(&ds, &config(&data, run, &slow)).unwrap();
        let regressed: Vec<_> = c
            .regressions()
            .filter(|r| r.kind == RowKind::Category)
            .collect();
        assert!(
            regressed.len() >= 4,
            "{run}: {category} regressed in most shapes: {regressed:?}"
        );
        assert!(
            regressed.iter().all(|r| r.key == category),
            "{run}: only {category} regressed: {regressed:?}"
        );
        for r in &regressed {
            assert!((r.pct.unwrap() - 20.0).abs() < 0.1, "{r:?}");
            assert!(
                stdout.contains(&format!("{} category {category}", r.shape.label())),
                "{stdout}"
            );
        }
        // Every shape where the category's 20% clears the floor is named.
        for r in c
            .rows
            .iter()
            .filter(|r| r.kind == RowKind::Category && r.key == category)
        {
            assert_eq!(r.change == Change::Regression, r.delta_ms >= 0.005, "{r:?}");
        }
        // Other categories did not move.
        assert!(c
            .rows
            .iter()
            .filter(|r| r.kind == RowKind::Category && r.key != category)
            .all(|r| r.change == Change::Same));
        // The reverse direction is faster, not a regression; --gate 25 lets it pass.
        let back = trace()
            .args(["diff", &slow, run, "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(
            back.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&back.stdout)
        );
        let lenient = trace()
            .args(["diff", run, &slow, "--gate", "25", "--data"])
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(lenient.status.code(), Some(0));
        let _ = std::fs::remove_dir_all(&data);
    }
}

#[test]
fn json_and_csv_are_complete_and_deterministic() {
    let data = dataset();
    let json = |_: ()| {
        trace()
            .args(["diff", "mini", "mini.kineto", "--format", "json", "--data"])
            .arg(data)
            .output()
            .unwrap()
    };
    let (a, b) = (json(()), json(()));
    assert!(a.stdout == b.stdout, "fixed seed: same output");
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let regression = v["regression"].as_bool().unwrap();
    assert_eq!(a.status.code(), Some(if regression { 1 } else { 0 }));
    let rows = v["comparison"]["rows"].as_array().unwrap();
    let csv = trace()
        .args(["diff", "mini", "mini.kineto", "--format", "csv", "--data"])
        .arg(data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&csv.stdout);
    assert_eq!(text.lines().count(), rows.len() + 1);
    assert!(text.starts_with(
        "phase,bsz,seq,kind,key,base_ms,new_ms,delta_ms,pct,ci_low_ms,ci_high_ms,steps,change"
    ));
}

#[test]
fn incomparable_runs_and_usage_errors() {
    let out = trace()
        .args(["diff", "mini", "tp2", "--data"])
        .arg(dataset())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot be compared: different gpus (1 vs 2)"),
        "{err}"
    );
    let out = trace()
        .args(["diff", "mini", "nope", "--data"])
        .arg(dataset())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no run \"nope\""));
    let out = trace().args(["diff", "mini"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}
