//! nsys's parquetdir export ingests exactly as its SQLite export does.
//!
//! The real export (`fixtures/nsys-parquetdir/`, nsys 2025.3.1, H200) ingests to what
//! its SQLite twin gave. For row-for-row equality on every SQLite fixture, each is
//! written as a parquetdir here: every table, in stored order, with the column types of
//! the real export where it has the column (unsigned ids, `large_string` text) and
//! small row groups (so kernel chunks and API ranges cross group boundaries); then both
//! are ingested and every table compared, row by row, in order.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, LargeStringArray, RecordBatch,
    UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use rusqlite::types::Value;

use crate::common::{fixture, ingest, read_table};

const REAL: &str = "nsys-parquetdir/h200_qwen3moe_2l_hf.parquetdir";

/// (table, column) → type, as nsys 2025.3.1 wrote them.
fn real_types() -> HashMap<(String, String), DataType> {
    let mut types = HashMap::new();
    for entry in std::fs::read_dir(fixture(REAL)).unwrap() {
        let path = entry.unwrap().path();
        let table = path.file_stem().unwrap().to_string_lossy().into_owned();
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        for field in builder.schema().fields() {
            types.insert(
                (table.clone(), field.name().clone()),
                field.data_type().clone(),
            );
        }
    }
    types
}

/// One SQLite column as the wanted Arrow type, or `None` when a value does not fit
/// (the column is then written as plain Int64 / Float64 / LargeUtf8).
fn column(values: &[Value], wanted: &DataType) -> Option<ArrayRef> {
    let ints = || -> Option<Vec<Option<i64>>> {
        values
            .iter()
            .map(|v| match v {
                Value::Null => Some(None),
                Value::Integer(i) => Some(Some(*i)),
                _ => None,
            })
            .collect()
    };
    Some(match wanted {
        DataType::UInt64 => Arc::new(UInt64Array::from(
            ints()?
                .into_iter()
                .map(|v| v.map(|i| i as u64))
                .collect::<Vec<_>>(),
        )),
        DataType::UInt32 => Arc::new(UInt32Array::from(
            ints()?
                .into_iter()
                .map(|v| v.map(u32::try_from).transpose())
                .collect::<Result<Vec<_>, _>>()
                .ok()?,
        )),
        DataType::Int32 => Arc::new(Int32Array::from(
            ints()?
                .into_iter()
                .map(|v| v.map(i32::try_from).transpose())
                .collect::<Result<Vec<_>, _>>()
                .ok()?,
        )),
        DataType::Int64 => Arc::new(Int64Array::from(ints()?)),
        DataType::Boolean => Arc::new(BooleanArray::from(
            ints()?
                .into_iter()
                .map(|v| v.map(|i| i != 0))
                .collect::<Vec<_>>(),
        )),
        DataType::Float64 => Arc::new(Float64Array::from(
            values
                .iter()
                .map(|v| match v {
                    Value::Null => Some(None),
                    Value::Real(f) => Some(Some(*f)),
                    Value::Integer(i) => Some(Some(*i as f64)),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?,
        )),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(
            values
                .iter()
                .map(|v| match v {
                    Value::Null => Some(None),
                    Value::Text(t) => Some(Some(t.clone())),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?,
        )),
        _ => return None,
    })
}

/// The plain type for a column the real export lacks, from its values.
fn inferred(values: &[Value]) -> DataType {
    if values.iter().any(|v| matches!(v, Value::Text(_))) {
        DataType::LargeUtf8
    } else if values.iter().any(|v| matches!(v, Value::Real(_))) {
        DataType::Float64
    } else {
        DataType::Int64
    }
}

/// Writes every table of the SQLite export `sqlite` into `dir` as nsys's parquetdir
/// does, in row groups of `group_rows`.
fn to_parquetdir(sqlite: &Path, dir: &Path, group_rows: usize) {
    let types = real_types();
    std::fs::create_dir_all(dir).unwrap();
    let conn = rusqlite::Connection::open(sqlite).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut cells: Vec<Vec<Value>> = vec![Vec::new(); names.len()];
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, cell) in cells.iter_mut().enumerate() {
                cell.push(row.get::<_, Value>(i).unwrap());
            }
        }
        let mut fields = Vec::new();
        let mut arrays = Vec::new();
        for (name, values) in names.iter().zip(&cells) {
            if values.iter().any(|v| matches!(v, Value::Blob(_))) {
                continue;
            }
            let wanted = types
                .get(&(table.clone(), name.clone()))
                .cloned()
                .unwrap_or_else(|| inferred(values));
            let array = column(values, &wanted)
                .or_else(|| column(values, &inferred(values)))
                .unwrap_or_else(|| panic!("{table}.{name}: mixed types"));
            fields.push(Field::new(name, array.data_type().clone(), true));
            arrays.push(array);
        }
        if fields.is_empty() {
            continue;
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .build();
        let file = File::create(dir.join(format!("{table}.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema, Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
}

/// Every table both datasets have for `run`, equal row for row (the `runs` row but
/// for where it came from).
fn assert_same(a: &Path, b: &Path, run: &str, what: &str) {
    for table in ["kernels", "memops", "steps", "nvtx", "runs", "model_flops"] {
        let (in_a, in_b) = (a.join(table).exists(), b.join(table).exists());
        assert_eq!(in_a, in_b, "{what}: table {table} written by one only");
        if !in_a {
            continue;
        }
        let (mut x, mut y) = (read_table(a, table, run), read_table(b, table, run));
        if table == "runs" {
            for batch in [&mut x, &mut y] {
                let keep: Vec<usize> = (0..batch.num_columns())
                    .filter(|&i| {
                        let name = batch.schema().field(i).name().clone();
                        name != "source_format" && name != "source_files"
                    })
                    .collect();
                *batch = batch.project(&keep).unwrap();
            }
        }
        assert_eq!(x.num_rows(), y.num_rows(), "{what}: {table} rows");
        for (i, field) in x.schema().fields().iter().enumerate() {
            assert_eq!(
                x.column(i).as_ref(),
                y.column(i).as_ref(),
                "{what}: {table}.{} differs",
                field.name()
            );
        }
    }
}

#[test]
fn the_real_parquetdir_export_ingests_as_its_sqlite_twin_did() {
    let out = tempfile::tempdir().unwrap();
    let summary = ingest(&[fixture(REAL)], out.path());
    // What `trace ingest` of the SQLite export of the same report gave on the H200.
    assert_eq!(summary.kernels, 15_702);
    assert_eq!(summary.labelled, 8_605);
    assert_eq!(summary.steps, 40);
    assert_eq!(summary.memops, 1_560);
    assert_eq!(summary.nvtx, 2_143);
    assert!(summary.module_ranges > 1_000, "{}", summary.module_ranges);
    let runs = read_table(out.path(), "runs", "h200_qwen3moe_2l_hf");
    let text = format!("{runs:?}");
    assert!(
        text.contains("nsys-parquetdir") && text.contains("H200"),
        "{text}"
    );
}

#[test]
fn every_sqlite_fixture_ingests_identically_through_parquet() {
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixture("nsys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 9);
    for (i, sqlite) in fixtures.iter().enumerate() {
        let stem = sqlite.file_stem().unwrap().to_string_lossy().into_owned();
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join(format!("{stem}.parquetdir"));
        // Row groups of a few hundred to a few thousand rows, differing per fixture.
        to_parquetdir(sqlite, &dir, [333, 1000, 4096][i % 3]);
        let (a, b) = (work.path().join("a"), work.path().join("b"));
        let from_sqlite = ingest(std::slice::from_ref(sqlite), &a);
        let from_parquet = ingest(&[dir], &b);
        assert_eq!(from_sqlite.kernels, from_parquet.kernels, "{stem}");
        assert_eq!(
            from_sqlite.survey.skipped, from_parquet.survey.skipped,
            "{stem}"
        );
        assert_same(&a, &b, &stem, &stem);
    }
}

#[test]
fn a_folder_that_is_not_an_export_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = sgl_trace::ingest::run(&crate::common::config(
        vec![dir.path().to_path_buf()],
        &dir.path().join("out"),
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("nsys export --type parquetdir"),
        "{err}"
    );
    std::fs::write(dir.path().join("StringIds.parquet"), b"not parquet").unwrap();
    let err = sgl_trace::ingest::run(&crate::common::config(
        vec![dir.path().to_path_buf()],
        &dir.path().join("out2"),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("StringIds.parquet"), "{err}");
}

/// A stand-in `nsys` of `version` whose `export` copies the real parquetdir export
/// (or an SQLite fixture) to `-o`, recording the `--type` it was asked for and
/// whether `--tables` was given; before 2023 it refuses `--tables` (stands for an
/// nsys without the option).
fn fake_nsys(dir: &Path, version: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("nsys");
    let text = format!(
        r#"#!/bin/sh
if [ "$1" = "--version" ]; then echo "NVIDIA Nsight Systems version {version}"; exit 0; fi
kind=""; out=""; tables=""
while [ $# -gt 0 ]; do
  case "$1" in
    --type) kind="$2"; shift ;;
    --tables) tables=" tables"; case "$2" in *'^CUPTI_ACTIVITY_KIND_KERNEL$'*) ;; *) exit 3 ;; esac; shift ;;
    -o) out="$2"; shift ;;
  esac
  shift
done
echo "$kind$tables" >> "{log}"
case "{version}" in 2022*) [ -n "$tables" ] && {{ echo "unrecognised option --tables" >&2; exit 1; }} ;; esac
case "$kind" in
  parquetdir) cp -r "{real}" "$out" ;;
  sqlite) cp "{sqlite}" "$out" ;;
esac
"#,
        log = dir.join("asked").display(),
        real = fixture(REAL).display(),
        sqlite = fixture("nsys/mini.sqlite").display(),
    );
    std::fs::write(&script, text).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[test]
fn a_report_is_exported_as_parquetdir_when_nsys_can() {
    for (version, kind, kernels, expected_asks) in [
        (
            "2025.3.1.90-253135822126v0",
            "parquetdir",
            15_702,
            "parquetdir tables",
        ),
        (
            "2024.6.2.225-246235244400v0",
            "parquetdir",
            15_702,
            "parquetdir tables",
        ),
        (
            "2024.5.1.113-245134619542v0",
            "sqlite",
            4_888,
            "sqlite tables",
        ),
        // Without `--tables`: asked again for every table.
        (
            "2022.4.2.1-df9881f",
            "sqlite",
            4_888,
            "sqlite tables\nsqlite",
        ),
    ] {
        let work = tempfile::tempdir().unwrap();
        let nsys = fake_nsys(work.path(), version);
        let report = work.path().join("cap.nsys-rep");
        std::fs::write(&report, b"a report").unwrap();
        let mut config = crate::common::config(vec![report], &work.path().join("out"));
        config.nsys = Some(nsys);
        let summary = sgl_trace::ingest::run(&config).unwrap();
        assert_eq!(summary.kernels, kernels, "{version}");
        let asked = std::fs::read_to_string(work.path().join("asked")).unwrap();
        assert_eq!(asked.trim(), expected_asks, "{version}");
        assert!(
            work.path().join(format!("cap.{kind}")).exists(),
            "{version}"
        );
        let partial: Vec<_> = std::fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("partial"))
            .collect();
        assert!(partial.is_empty(), "{partial:?}");
    }
}

/// Both exports nsys 2025.3.1 made of one report, for each trace family: HF eager
/// decode (API-heavy) and CUDA-graph decode with module ranges (H200).
#[test]
fn nsys_exports_of_one_report_ingest_identically() {
    for pair in ["h200_pq_eager", "h200_pq_graph"] {
        let work = tempfile::tempdir().unwrap();
        let (a, b) = (work.path().join("a"), work.path().join("b"));
        let sqlite = ingest(&[fixture(&format!("nsys-pairs/{pair}.sqlite"))], &a);
        let parquet = ingest(&[fixture(&format!("nsys-pairs/{pair}.parquetdir"))], &b);
        assert!(sqlite.kernels > 5_000 && sqlite.labelled > 1_000, "{pair}");
        assert_eq!(sqlite.kernels, parquet.kernels, "{pair}");
        assert_eq!(sqlite.labelled, parquet.labelled, "{pair}");
        assert_eq!(sqlite.module_ranges, parquet.module_ranges, "{pair}");
        assert_eq!(sqlite.survey.skipped, parquet.survey.skipped, "{pair}");
        assert_same(&a, &b, pair, pair);
    }
}

/// A truncated table file, or a column of the wrong type, is an error naming the file
/// (or table and column), and no run is published.
#[test]
fn a_damaged_parquetdir_is_refused_by_name() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("cap.parquetdir");
    to_parquetdir(&fixture("nsys/mini.sqlite"), &dir, 1000);
    let kernels = dir.join("CUPTI_ACTIVITY_KIND_KERNEL.parquet");
    let bytes = std::fs::read(&kernels).unwrap();
    std::fs::write(&kernels, &bytes[..bytes.len() / 2]).unwrap();
    let out = work.path().join("out");
    let err = sgl_trace::ingest::run(&crate::common::config(vec![dir.clone()], &out)).unwrap_err();
    assert!(
        err.to_string()
            .contains("CUPTI_ACTIVITY_KIND_KERNEL.parquet"),
        "{err}"
    );
    assert!(!out.join("kernels").exists());

    // `start` as text where an integer belongs.
    std::fs::write(&kernels, &bytes).unwrap();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("start", DataType::LargeUtf8, true),
            Field::new("eventType", DataType::Int64, true),
        ])),
        vec![
            Arc::new(LargeStringArray::from(vec!["1"])),
            Arc::new(Int64Array::from(vec![2])),
        ],
    )
    .unwrap();
    let nvtx = dir.join("NVTX_EVENTS.parquet");
    let mut writer =
        ArrowWriter::try_new(File::create(&nvtx).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let err = sgl_trace::ingest::run(&crate::common::config(vec![dir], &out)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("NVTX_EVENTS") && text.contains("column start is"),
        "{text}"
    );
    assert!(text.contains("not an integer"), "{text}");
}
