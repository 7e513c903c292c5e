//! Shared helpers: fixture paths, ingesting into a temp dir, reading tables back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::{Array, AsArray, RecordBatch, RecordBatchReader};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sgl_trace::attribute::Rules;
use sgl_trace::ingest::{self, IngestConfig, RunMeta, Summary};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

pub fn config(inputs: Vec<PathBuf>, out: &Path) -> IngestConfig {
    IngestConfig {
        inputs,
        run_id: None,
        rules: Rules::load(&root().join("conf/kernels.yaml")).unwrap(),
        out_dir: out.to_path_buf(),
        nsys: None,
        progress: false,
        meta: RunMeta::default(),
        arch: None,
    }
}

pub fn ingest(inputs: &[PathBuf], out: &Path) -> Summary {
    ingest::run(&config(inputs.to_vec(), out)).unwrap()
}

/// All rows of `table` for `run`, concatenated into one batch.
pub fn read_table(out: &Path, table: &str, run: &str) -> RecordBatch {
    let dir = out.join(table).join(format!("run={run}"));
    let mut parts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    let mut batches = Vec::new();
    let mut schema = None;
    for part in parts {
        let file = std::fs::File::open(&part).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        schema = Some(reader.schema());
        for batch in reader {
            batches.push(batch.unwrap());
        }
    }
    plain_strings(&concat_batches(&schema.unwrap(), &batches).unwrap())
}

/// `batch` with its dictionary string columns (kernel names, NVTX text) cast to
/// plain strings, as tests read them.
pub fn plain_strings(batch: &RecordBatch) -> RecordBatch {
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let (fields, columns): (Vec<Field>, Vec<_>) = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| match field.data_type() {
            DataType::Dictionary(_, _) => (
                Field::new(field.name(), DataType::Utf8, field.is_nullable()),
                cast(column, &DataType::Utf8).unwrap(),
            ),
            _ => (field.as_ref().clone(), column.clone()),
        })
        .unzip();
    RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns).unwrap()
}

pub fn trace() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trace"));
    cmd.current_dir(root());
    cmd
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A step shape: (phase, bsz, seq).
pub type Shape = (String, i32, i32);

/// Shape of each kernel row (`None` when unlabelled) → (kernels, summed ns).
pub fn kernels_by_shape(kernels: &RecordBatch) -> BTreeMap<Option<Shape>, (u64, i64)> {
    let phase = kernels.column_by_name("phase").unwrap().as_string::<i32>();
    let bsz = kernels
        .column_by_name("bsz")
        .unwrap()
        .as_primitive::<Int32Type>();
    let seq = kernels
        .column_by_name("seq")
        .unwrap()
        .as_primitive::<Int32Type>();
    let dur = kernels
        .column_by_name("dur_ns")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut out = BTreeMap::new();
    for i in 0..kernels.num_rows() {
        let key =
            (!phase.is_null(i)).then(|| (phase.value(i).to_string(), bsz.value(i), seq.value(i)));
        let entry = out.entry(key).or_insert((0, 0));
        entry.0 += 1;
        entry.1 += dur.value(i);
    }
    out
}
