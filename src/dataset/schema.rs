//! Arrow schemas and row builders for every table of the dataset.
//!
//! Each table is declared once with [`arrow_table!`], which generates the schema and
//! a builder struct with one typed Arrow builder per column, so an importer appends
//! values without per-row allocation. A row that misses a column makes
//! [`RecordBatch::try_new`] fail with a length error, which the tests catch.
//!
//! Names many rows share (kernel names, NVTX text, copy names) are dictionary
//! columns (`Dictionary(Int32, Utf8)`, kind `Dict`): each distinct value is held once
//! per batch, in memory and in the file's Arrow schema, so 300,000 kernels sharing
//! one 64 KiB name cost one copy of it (a plain string column would need 19 GB and
//! overflow Arrow's 2 GiB offsets). [`NameBuilder::append_keyed`] finds a value by
//! the importer's interned id, without hashing the text.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, DictionaryArray, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder,
};
use datafusion::arrow::datatypes::Int32Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::fast_hash::FastMap;

/// Common interface of the generated builders.
pub trait TableBuilder: Default + Send {
    /// Table name (the directory under `results/parquet`).
    const NAME: &'static str;
    /// The table's Arrow schema.
    fn schema() -> SchemaRef;
    /// Rows appended since the last [`TableBuilder::finish`].
    fn len(&self) -> usize;
    /// True when no row is pending.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Turns the pending rows into a batch and resets the builders.
    fn finish(&mut self) -> Result<RecordBatch, ArrowError>;
}

macro_rules! arrow_type {
    (I32) => {
        DataType::Int32
    };
    (I64) => {
        DataType::Int64
    };
    (Str) => {
        DataType::Utf8
    };
    (F64) => {
        DataType::Float64
    };
    (Dict) => {
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    };
}

macro_rules! builder_type {
    (I32) => {
        Int32Builder
    };
    (I64) => {
        Int64Builder
    };
    (Str) => {
        StringBuilder
    };
    (F64) => {
        Float64Builder
    };
    (Dict) => {
        NameBuilder
    };
}

/// A dictionary string column under construction (see the module docs).
#[derive(Default)]
pub struct NameBuilder {
    keys: Int32Builder,
    values: StringBuilder,
    /// Importer id → dictionary key, for [`NameBuilder::append_keyed`].
    by_id: FastMap<i64, i32>,
    /// Text → dictionary key, for [`NameBuilder::append_value`].
    by_text: FastMap<Box<str>, i32>,
}

impl NameBuilder {
    fn push(&mut self, value: &str) -> i32 {
        let key = self.values.len() as i32;
        self.values.append_value(value);
        key
    }

    /// Appends `value`, known to the importer by `id` (the same id is always the
    /// same text): no hashing of the text.
    pub fn append_keyed(&mut self, id: i64, value: &str) {
        let key = match self.by_id.get(&id) {
            Some(key) => *key,
            None => {
                let key = self.push(value);
                self.by_id.insert(id, key);
                key
            }
        };
        self.keys.append_value(key);
    }

    /// Appends `value`, found by its text.
    pub fn append_value(&mut self, value: &str) {
        let key = match self.by_text.get(value) {
            Some(key) => *key,
            None => {
                let key = self.push(value);
                self.by_text.insert(value.into(), key);
                key
            }
        };
        self.keys.append_value(key);
    }

    /// Appends `value` or a null.
    pub fn append_option(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.append_value(value),
            None => self.keys.append_null(),
        }
    }

    /// Rows appended since the last [`NameBuilder::finish`].
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.keys.len() == 0
    }

    /// The pending rows as a dictionary array; resets the builder.
    pub fn finish(&mut self) -> DictionaryArray<Int32Type> {
        let keys = self.keys.finish();
        let values: ArrayRef = Arc::new(self.values.finish());
        self.by_id.clear();
        self.by_text.clear();
        // Every key indexes a value pushed above, so this cannot fail.
        DictionaryArray::new(keys, values)
    }
}

macro_rules! arrow_table {
    ($(#[$meta:meta])* $builder:ident, $table:literal { $($column:ident : $kind:ident $nullable:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Default)]
        pub struct $builder {
            $(pub $column: builder_type!($kind),)*
        }

        impl TableBuilder for $builder {
            const NAME: &'static str = $table;

            fn schema() -> SchemaRef {
                Arc::new(Schema::new(vec![
                    $(Field::new(stringify!($column), arrow_type!($kind), $nullable),)*
                ]))
            }

            fn len(&self) -> usize {
                // Every column has the same length when rows are complete; the
                // first column is the cheapest to ask.
                let lens = [$(self.$column.len(),)*];
                lens[0]
            }

            fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
                let columns: Vec<ArrayRef> = vec![$(Arc::new(self.$column.finish()),)*];
                RecordBatch::try_new(Self::schema(), columns)
            }
        }
    };
}

arrow_table! {
    /// `kernels`: one row per GPU kernel execution.
    KernelsBuilder, "kernels" {
        device: I32 false,
        pid: I64 false,
        tid: I64 true,
        stream: I64 false,
        correlation_id: I64 true,
        start_ns: I64 false,
        end_ns: I64 false,
        dur_ns: I64 false,
        name: Dict false,
        demangled: Dict false,
        category: Str false,
        category_source: Str false,
        name_category: Str false,
        module: Str true,
        module_class: Str true,
        layer: I32 true,
        launch: Str false,
        api: Str true,
        graph_node_id: I64 true,
        grid_x: I32 false,
        grid_y: I32 false,
        grid_z: I32 false,
        block_x: I32 false,
        block_y: I32 false,
        block_z: I32 false,
        registers: I32 false,
        shared_static_bytes: I32 false,
        shared_dynamic_bytes: I32 false,
        step: I64 true,
        phase: Str true,
        bsz: I32 true,
        seq: I32 true,
        iter: I32 true,
    }
}

arrow_table! {
    /// `memops`: one row per memcpy or memset on the GPU.
    MemopsBuilder, "memops" {
        device: I32 false,
        pid: I64 false,
        tid: I64 true,
        stream: I64 false,
        correlation_id: I64 true,
        start_ns: I64 false,
        end_ns: I64 false,
        dur_ns: I64 false,
        kind: Str false,
        copy_kind: Str true,
        bytes: I64 false,
        name: Dict false,
        launch: Str false,
        api: Str true,
        step: I64 true,
        phase: Str true,
        bsz: I32 true,
        seq: I32 true,
        iter: I32 true,
    }
}

arrow_table! {
    /// `steps`: one row per labelled forward step and device it ran kernels on.
    StepsBuilder, "steps" {
        step: I64 false,
        phase: Str false,
        bsz: I32 false,
        seq: I32 true,
        iter: I32 true,
        prefill_reqs: I64 true,
        prefill_tokens: I64 true,
        decode_reqs: I64 true,
        decode_tokens: I64 true,
        kv_tokens: I64 true,
        pid: I64 false,
        tid: I64 false,
        device: I32 true,
        cpu_start_ns: I64 false,
        cpu_end_ns: I64 false,
        cpu_dur_ns: I64 false,
        gpu_start_ns: I64 true,
        gpu_end_ns: I64 true,
        gpu_span_ns: I64 true,
        gpu_busy_ns: I64 false,
        gpu_idle_ns: I64 false,
        kernel_ns: I64 false,
        kernels: I64 false,
        graph_kernels: I64 false,
        memops: I64 false,
        comm_ns: I64 false,
        comm_hidden_ns: I64 false,
        comm_exposed_ns: I64 false,
    }
}

arrow_table! {
    /// `nvtx`: one row per NVTX range or mark.
    NvtxBuilder, "nvtx" {
        pid: I64 false,
        tid: I64 false,
        start_ns: I64 false,
        end_ns: I64 true,
        dur_ns: I64 true,
        kind: Str false,
        text: Dict true,
        domain_id: I64 true,
        depth: I32 false,
        step: I64 true,
    }
}

arrow_table! {
    /// `runs`: one row per ingested run; only the fields listed here, never the
    /// profiled process's environment or command line.
    RunsBuilder, "runs" {
        run_id: Str false,
        source_files: Str false,
        source_format: Str false,
        nsys_version: Str true,
        schema_version: Str true,
        gpu: Str true,
        gpus: I32 false,
        host_gpus: I32 true,
        cuda_driver_version: Str true,
        cuda_graph_trace: Str true,
        kernels: I64 false,
        labelled_kernels: I64 false,
        steps: I64 false,
        ranks: Str true,
        rules_hash: Str false,
        trace_version: Str false,
        model: Str true,
        mconf: Str true,
        deploy: Str true,
        backend: Str true,
        engine: Str true,
        sglang_version: Str true,
    }
}

arrow_table! {
    /// `latency`: host-timed forward latency per (phase, bsz, seq, rank), from the
    /// capture harness (CUDA events around the forward only).
    LatencyBuilder, "latency" {
        phase: Str false,
        bsz: I32 false,
        seq: I32 false,
        rank: I32 false,
        iters: I32 false,
        mean_ms: F64 false,
        p50_ms: F64 false,
        p90_ms: F64 false,
        min_ms: F64 false,
        max_ms: F64 false,
    }
}

arrow_table! {
    /// `step_categories`: the kernels summed per step (null: outside any step),
    /// device, category, name category, category source and launch kind — a few
    /// dozen rows per step, from which the shipped queries answer without reading
    /// `kernels`. Each row's `kernels` and `gpu_ns` equal that group of `kernels`
    /// rows' count and summed `dur_ns`; `module_ns` is the part whose module is known.
    StepCategoriesBuilder, "step_categories" {
        step: I64 true,
        phase: Str true,
        bsz: I32 true,
        seq: I32 true,
        iter: I32 true,
        device: I32 false,
        category: Str false,
        name_category: Str false,
        category_source: Str false,
        launch: Str false,
        kernels: I64 false,
        gpu_ns: I64 false,
        module_ns: I64 false,
    }
}

/// The table `trace capture` writes beside the ingested ones.
pub const LATENCY_TABLE: &str = LatencyBuilder::NAME;

arrow_table! {
    /// `model_flops`: forward FLOPs and bytes read per (phase, bsz, seq) of the run,
    /// from the model config (written when ingest knows the model).
    ModelFlopsBuilder, "model_flops" {
        model: Str false,
        mconf: Str false,
        phase: Str false,
        bsz: I32 false,
        seq: I32 false,
        flops: I64 false,
        attention_flops: I64 false,
        mlp_flops: I64 false,
        lm_head_flops: I64 false,
        weight_bytes: I64 false,
        kv_bytes: I64 false,
        dtype: Str false,
        gpu: Str true,
        peak_flops: F64 true,
        peak_bytes_per_s: F64 true,
    }
}

/// The table ingest writes when it knows the model.
pub const MODEL_FLOPS_TABLE: &str = ModelFlopsBuilder::NAME;

/// Names of all tables `trace ingest` writes.
pub const INGEST_TABLES: &[&str] = &[
    KernelsBuilder::NAME,
    MemopsBuilder::NAME,
    StepsBuilder::NAME,
    StepCategoriesBuilder::NAME,
    NvtxBuilder::NAME,
    RunsBuilder::NAME,
];

/// Version of the dataset's tables (their names, columns, types and nullability),
/// shown by `trace --version`. Bump it with any change to a table, and set
/// [`SCHEMA_FINGERPRINT`] to what [`fingerprint`] then returns (a test checks).
pub const DATASET_SCHEMA_VERSION: u32 = 2;

/// [`fingerprint`] of the tables at [`DATASET_SCHEMA_VERSION`].
pub const SCHEMA_FINGERPRINT: &str = "af25e7ec82fabda3";

/// Every table the dataset may hold, ingest's first.
pub const ALL_TABLES: &[&str] = &[
    KernelsBuilder::NAME,
    MemopsBuilder::NAME,
    StepsBuilder::NAME,
    StepCategoriesBuilder::NAME,
    NvtxBuilder::NAME,
    RunsBuilder::NAME,
    LatencyBuilder::NAME,
    ModelFlopsBuilder::NAME,
];

/// FNV-1a (64 bit, stable across Rust releases) of every table's columns, types and
/// nullability, in declaration order.
pub fn fingerprint() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for table in ALL_TABLES {
        let Some(schema) = schema_of(table) else {
            continue;
        };
        let mut text = format!("{table}(");
        for field in schema.fields() {
            text.push_str(&format!(
                "{}:{}:{};",
                field.name(),
                field.data_type(),
                field.is_nullable()
            ));
        }
        text.push(')');
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Schema of a table by name.
pub fn schema_of(table: &str) -> Option<SchemaRef> {
    Some(match table {
        KernelsBuilder::NAME => KernelsBuilder::schema(),
        MemopsBuilder::NAME => MemopsBuilder::schema(),
        StepsBuilder::NAME => StepsBuilder::schema(),
        StepCategoriesBuilder::NAME => StepCategoriesBuilder::schema(),
        NvtxBuilder::NAME => NvtxBuilder::schema(),
        RunsBuilder::NAME => RunsBuilder::schema(),
        LatencyBuilder::NAME => LatencyBuilder::schema(),
        ModelFlopsBuilder::NAME => ModelFlopsBuilder::schema(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_changes_bump_the_version() {
        assert_eq!(
            fingerprint(),
            SCHEMA_FINGERPRINT,
            "a dataset table changed: bump DATASET_SCHEMA_VERSION (now {DATASET_SCHEMA_VERSION}) \
             and set SCHEMA_FINGERPRINT to {:?}",
            fingerprint()
        );
        for table in ALL_TABLES {
            assert!(schema_of(table).is_some(), "{table}");
        }
    }

    #[test]
    fn time_columns_are_int64_ns() {
        for table in INGEST_TABLES {
            let schema = schema_of(table).unwrap();
            for field in schema.fields() {
                if field.name().ends_with("_ns") {
                    assert_eq!(
                        field.data_type(),
                        &DataType::Int64,
                        "{table}.{}",
                        field.name()
                    );
                }
                assert_ne!(field.name(), "run", "run comes from the partition path");
            }
        }
    }

    #[test]
    fn incomplete_row_is_an_error() {
        let mut b = NvtxBuilder::default();
        b.pid.append_value(1);
        assert!(b.finish().is_err());
    }
}
