//! The `skew` query on the two-rank fixture, against the same figures computed here
//! from the `steps` rows: per shape and device, span against the slowest rank of each
//! iteration, start lag and time waited inside collectives.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use datafusion::arrow::util::display::array_value_to_string;
use sgl_trace::query::{self, QueryConfig, QuerySource};

use crate::common::{fixture, ingest, read_table};

/// (phase, bsz, seq, iter) → [(device, gpu_start_ns, gpu_span_ns, comm_ns)].
type Iterations = BTreeMap<(String, i32, i32, i32), Vec<(i32, i64, i64, i64)>>;

fn iterations(steps: &datafusion::arrow::array::RecordBatch) -> Iterations {
    let col = |n: &str| steps.column_by_name(n).unwrap();
    let (phase, bsz, seq, iter) = (
        col("phase").as_string::<i32>(),
        col("bsz").as_primitive::<Int32Type>(),
        col("seq").as_primitive::<Int32Type>(),
        col("iter").as_primitive::<Int32Type>(),
    );
    let device = col("device").as_primitive::<Int32Type>();
    let (start, span, comm) = (
        col("gpu_start_ns").as_primitive::<Int64Type>(),
        col("gpu_span_ns").as_primitive::<Int64Type>(),
        col("comm_ns").as_primitive::<Int64Type>(),
    );
    let mut out = Iterations::new();
    for i in 0..steps.num_rows() {
        if device.is_null(i) || iter.is_null(i) || span.is_null(i) {
            continue;
        }
        let key = (
            phase.value(i).to_string(),
            bsz.value(i),
            seq.value(i),
            iter.value(i),
        );
        out.entry(key).or_default().push((
            device.value(i),
            start.value(i),
            span.value(i),
            comm.value(i),
        ));
    }
    out
}

/// (phase, bsz, seq, device) → (steps, pct_of_slowest, times_slowest, start_lag_ms, collective_wait_ms).
type Expected = BTreeMap<(String, i32, i32, i32), (usize, f64, usize, f64, f64)>;

fn expected(iters: &Iterations) -> Expected {
    let mut acc: BTreeMap<_, (usize, i64, i64, usize, i64, i64)> = BTreeMap::new();
    for ((phase, bsz, seq, _), ranks) in iters {
        let slowest = ranks.iter().map(|r| r.2).max().unwrap();
        let first = ranks.iter().map(|r| r.1).min().unwrap();
        let least_comm = ranks.iter().map(|r| r.3).min().unwrap();
        for &(device, start, span, comm) in ranks {
            let e = acc.entry((phase.clone(), *bsz, *seq, device)).or_default();
            e.0 += 1;
            e.1 += span;
            e.2 += slowest;
            e.3 += usize::from(span == slowest);
            e.4 += start - first;
            e.5 += comm - least_comm;
        }
    }
    acc.into_iter()
        .map(|(k, (n, span, slowest, times, lag, wait))| {
            let n_f = n as f64;
            (
                k,
                (
                    n,
                    100.0 * span as f64 / slowest as f64,
                    times,
                    lag as f64 / n_f / 1e6,
                    wait as f64 / n_f / 1e6,
                ),
            )
        })
        .collect()
}

#[test]
fn skew_matches_figures_computed_from_steps() {
    let out = tempfile::tempdir().unwrap();
    ingest(&[fixture("nsys/tp2.sqlite")], out.path());
    let iters = iterations(&read_table(out.path(), "steps", "tp2"));
    assert!(
        iters.values().all(|ranks| ranks.len() == 2),
        "every iteration of the tp2 fixture has both ranks"
    );
    let want = expected(&iters);

    let result = query::execute(&QueryConfig {
        data_dir: out.path().to_path_buf(),
        source: QuerySource::Named("skew".into()),
        run: None,
        params: Vec::new(),
        queries_dir: None,
    })
    .unwrap();
    let batch = concat_batches(&result.schema, &result.batches).unwrap();
    let text = |name: &str, row: usize| {
        array_value_to_string(batch.column_by_name(name).unwrap(), row).unwrap()
    };
    let num = |name: &str, row: usize| text(name, row).parse::<f64>().unwrap();
    assert_eq!(batch.num_rows(), want.len());
    let mut waited = 0.0;
    for row in 0..batch.num_rows() {
        let key = (
            text("phase", row),
            num("bsz", row) as i32,
            num("seq", row) as i32,
            num("device", row) as i32,
        );
        let (steps, pct, times, lag, wait) = want[&key];
        assert_eq!(num("steps", row) as usize, steps, "{key:?}");
        assert_eq!(num("ranks", row), 2.0, "{key:?}");
        assert!((num("pct_of_slowest", row) - pct).abs() <= 0.05, "{key:?}");
        assert_eq!(num("times_slowest", row) as usize, times, "{key:?}");
        assert!((num("start_lag_ms", row) - lag).abs() <= 5e-5, "{key:?}");
        assert!(
            (num("collective_wait_ms", row) - wait).abs() <= 5e-5,
            "{key:?}"
        );
        waited += wait;
    }
    assert!(
        waited > 0.0,
        "the tp2 ranks wait for each other in all-reduce"
    );
}
