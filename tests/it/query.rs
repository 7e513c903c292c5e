//! `trace query` on the fixture dataset: one snapshot per shipped `.sql` file,
//! output formats that round-trip, parameters, `--run`, and helpful errors.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{RecordBatch, RecordBatchReader};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::csv::ReaderBuilder;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sgl_trace::query::{self, format, OutputFormat, QueryConfig, QueryResult, QuerySource};

use sgl_trace::arch::Arch;

use crate::common::{config, fixture, ingest, root};

/// mini, mini_range and tp2 ingested once for the whole test binary.
fn dataset() -> &'static Path {
    static DATASET: OnceLock<PathBuf> = OnceLock::new();
    DATASET.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dataset-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for file in ["nsys/mini.sqlite", "nsys/tp2.sqlite"] {
            ingest(&[fixture(file)], &dir);
        }
        // mini_range with a model attached, to exercise model_flops and the mfu query
        // (the traced workload is a small MoE, not this exact config: the mechanics
        // are under test here, the numbers are checked in model_accounting).
        let mut cfg = config(vec![fixture("nsys/mini_range.sqlite")], &dir);
        cfg.meta.model = Some("qwen3_moe".into());
        cfg.meta.mconf = Some("2l".into());
        cfg.arch = Some(Arch::load(&root().join("model_conf/qwen3_moe/config_2l.json")).unwrap());
        sgl_trace::ingest::run(&cfg).unwrap();
        dir
    })
}

fn run(
    source: QuerySource,
    run: Option<&str>,
    params: &[(&str, &str)],
) -> sgl_trace::Result<QueryResult> {
    query::execute(&QueryConfig {
        data_dir: dataset().to_path_buf(),
        source,
        run: run.map(String::from),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        queries_dir: None,
    })
}

fn named(name: &str) -> QueryResult {
    run(QuerySource::Named(name.into()), None, &[]).unwrap()
}

fn render(format: OutputFormat, result: &QueryResult) -> Vec<u8> {
    let mut out = Vec::new();
    format::write(format, &result.schema, &result.batches, &mut out).unwrap();
    out
}

fn one_batch(result: &QueryResult) -> RecordBatch {
    concat_batches(&result.schema, &result.batches).unwrap()
}

/// Every cell as text, row-major.
fn cells(batch: &RecordBatch) -> Vec<Vec<String>> {
    (0..batch.num_rows())
        .map(|r| {
            batch
                .columns()
                .iter()
                .map(|c| array_value_to_string(c, r).unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn every_shipped_query_matches_its_snapshot() {
    insta::glob!("../../queries", "*.sql", |path| {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let result = named(&name);
        assert!(
            result.num_rows() > 0 || name == "latency" || name == "unattributed",
            "{name} returned no rows"
        );
        let text = String::from_utf8(render(OutputFormat::Csv, &result)).unwrap();
        insta::assert_snapshot!(text);
    });
}

#[test]
fn categories_by_shape_adds_up() {
    let batch = one_batch(&named("categories-by-shape"));
    let col = |n: &str| batch.schema().index_of(n).unwrap();
    for row in cells(&batch) {
        let parts: f64 = [
            "attention_ms",
            "moe_ms",
            "gemm_ms",
            "communication_ms",
            "pointwise_ms",
            "memory_ms",
            "elementwise_ms",
            "other_ms",
        ]
        .iter()
        .map(|c| row[col(c)].parse::<f64>().unwrap())
        .sum();
        let total: f64 = row[col("total_ms")].parse().unwrap();
        assert!((parts - total).abs() < 1e-3, "{row:?}");
    }
}

#[test]
fn mfu_is_model_flops_over_time_gpus_and_peak() {
    let rows = cells(&one_batch(&named("mfu")));
    assert_eq!(rows.len(), 8, "{rows:?}");
    let check = run(
        QuerySource::Sql(
            "SELECT m.flops, m.peak_flops, s.span FROM model_flops m JOIN (SELECT phase, bsz, seq, avg(gpu_span_ns) AS span FROM steps WHERE run = 'mini_range' GROUP BY phase, bsz, seq) s ON s.phase = m.phase AND s.bsz = m.bsz AND s.seq = m.seq WHERE m.phase = 'decode' AND m.bsz = 4 AND m.seq = 512".into(),
        ),
        None,
        &[],
    )
    .unwrap();
    let row = &cells(&one_batch(&check))[0];
    let (flops, peak, span): (f64, f64, f64) = (
        row[0].parse().unwrap(),
        row[1].parse().unwrap(),
        row[2].parse().unwrap(),
    );
    assert_eq!(peak, 989.4e12, "H100 SXM BF16 dense");
    let want = 100.0 * flops / (span / 1e9 * 1.0 * peak);
    let got: f64 = rows
        .iter()
        .find(|r| r[3] == "decode" && r[4] == "4" && r[5] == "512")
        .unwrap()[13]
        .parse()
        .unwrap();
    assert!((got - want).abs() < 1e-3, "{got} vs {want}");
}

#[test]
fn csv_json_and_parquet_round_trip() {
    let result = named("steps");
    let batch = one_batch(&result);
    let expected = cells(&batch);
    assert!(expected.len() > 40);

    let csv = render(OutputFormat::Csv, &result);
    let reader = ReaderBuilder::new(result.schema.clone())
        .with_header(true)
        .build(std::io::Cursor::new(csv))
        .unwrap();
    let parsed: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(
        cells(&concat_batches(&result.schema, &parsed).unwrap()),
        expected
    );

    let json: serde_json::Value =
        serde_json::from_slice(&render(OutputFormat::Json, &result)).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), expected.len());
    for (row, want) in rows.iter().zip(&expected) {
        for (field, cell) in result.schema.fields().iter().zip(want) {
            let got = &row[field.name()];
            let got = match got {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            assert_eq!(
                got.parse::<f64>().ok().or(None),
                cell.parse::<f64>().ok(),
                "{} {got} vs {cell}",
                field.name()
            );
            if got.parse::<f64>().is_err() {
                assert_eq!(&got, cell);
            }
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steps.parquet");
    format::write_file(
        OutputFormat::Parquet,
        &result.schema,
        &result.batches,
        &path,
    )
    .unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let schema = reader.schema();
    assert_eq!(schema.fields(), result.schema.fields());
    let back: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(concat_batches(&schema, &back).unwrap(), batch);
}

#[test]
fn empty_results_keep_their_header() {
    let result = run(
        QuerySource::Sql("SELECT name, dur_ns FROM kernels WHERE dur_ns < 0".into()),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(result.num_rows(), 0);
    assert_eq!(
        String::from_utf8(render(OutputFormat::Csv, &result)).unwrap(),
        "name,dur_ns\n"
    );
    assert_eq!(
        String::from_utf8(render(OutputFormat::Json, &result)).unwrap(),
        "[]\n"
    );
    assert!(String::from_utf8(render(OutputFormat::Table, &result))
        .unwrap()
        .contains("(0 rows)"));
}

#[test]
fn run_filter_and_parameters() {
    let all = run(
        QuerySource::Sql("SELECT DISTINCT run FROM kernels ORDER BY run".into()),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(all.num_rows(), 3);
    let one = run(
        QuerySource::Named("top-kernels".into()),
        Some("tp2"),
        &[("top", "3")],
    )
    .unwrap();
    let rows = cells(&one_batch(&one));
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r[0] == "tp2"));
    assert!(
        rows[0][2].starts_with("ncclDevKernel_AllReduce"),
        "{rows:?}"
    );

    let err = run(QuerySource::Named("top-kernels".into()), Some("nope"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no run \"nope\"") && err.contains("tp2"),
        "{err}"
    );
    let err = run(
        QuerySource::Named("top-kernels".into()),
        None,
        &[("topp", "3")],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("topp") && err.contains("top"), "{err}");
    let err = run(QuerySource::Named("kernels-by-phaze".into()), None, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("kernels-by-phase"), "{err}");
}

#[test]
fn sql_errors_list_tables_and_columns() {
    let err = run(
        QuerySource::Sql("SELECT duration FROM kernels".into()),
        None,
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("query --sql"), "{err}");
    assert!(
        err.contains("available tables:") && err.contains("kernels(device, pid"),
        "{err}"
    );
    assert!(err.contains("steps(step, phase"), "{err}");
}

#[test]
fn missing_dataset_says_what_to_do() {
    let err = query::execute(&QueryConfig {
        data_dir: PathBuf::from("/nonexistent/parquet"),
        source: QuerySource::Named("runs".into()),
        run: None,
        params: vec![],
        queries_dir: None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("trace ingest"), "{err}");
}

#[test]
fn tables_read_from_pandas_style_paths_have_the_run_column() {
    let result = run(
        QuerySource::Sql("SELECT run, count(*) AS n FROM steps GROUP BY run ORDER BY run".into()),
        None,
        &[],
    )
    .unwrap();
    let rows = cells(&one_batch(&result));
    assert_eq!(
        rows,
        vec![
            vec!["mini".to_string(), "24".into()],
            vec!["mini_range".into(), "16".into()],
            vec!["tp2".into(), "48".into()]
        ]
    );
    let _ = Arc::clone(&result.schema);
}

/// The report's and the diff's own questions (`queries/report/*.sql`,
/// `queries/diff/*.sql`), run through the one reader with parameters chosen so each
/// returns rows on the fixture dataset: one snapshot per file (row count, an FNV-1a
/// of the whole CSV, and its first 25 lines, so large answers stay reviewable).
#[test]
fn every_report_and_diff_question_matches_its_snapshot() {
    use sgl_trace::query::internal::Param::{Ints, Text};
    use sgl_trace::query::reader::Reader;

    let reader = Reader::open(dataset()).unwrap();
    let steps = reader
        .ask("report/timeline-steps", &[("run", Text("mini"))])
        .unwrap();
    let first_steps: Vec<i64> = steps
        .i64s_or_zero("step")
        .unwrap()
        .into_iter()
        .take(2)
        .collect();
    for folder in ["report", "diff"] {
        insta::glob!(&format!("../../queries/{folder}"), "*.sql", |path| {
            let name = format!("{folder}/{}", path.file_stem().unwrap().to_string_lossy());
            let run = match name.as_str() {
                "report/skew" | "report/devices" => "tp2",
                "report/utilization" => "mini_range",
                _ => "mini",
            };
            let params: Vec<(&str, sgl_trace::query::internal::Param)> = match folder {
                "diff" => vec![("base", Text("mini")), ("new", Text("mini_range"))],
                _ if name == "report/run-ids" => vec![],
                _ if name == "report/timeline-kernels" => {
                    vec![("run", Text(run)), ("steps", Ints(&first_steps))]
                }
                _ => vec![("run", Text(run))],
            };
            let rows = reader.ask(&name, &params).unwrap();
            assert!(!rows.is_empty(), "{name} returned no rows");
            let csv = String::from_utf8(render(OutputFormat::Csv, rows.result())).unwrap();
            let head: Vec<&str> = csv.lines().take(25).collect();
            insta::assert_snapshot!(format!(
                "rows: {}\nfnv1a: {}\n{}\n",
                rows.len(),
                sgl_trace::vocab::fnv1a_hex(csv.as_bytes()),
                head.join("\n")
            ));
        });
    }
}
