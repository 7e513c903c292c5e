//! Exports across nsys schema versions ingest, or fail naming the file and what is
//! missing: the public 2025.1 → 2026.1 exports, and synthetic older layouts.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Int32Type, Int64Type};
use rusqlite::Connection;
use sgl_trace::ingest;

use crate::common::{config, fixture, ingest, read_table};
use crate::synthetic::{build, Nvtx, Synth};

#[test]
fn public_exports_of_other_versions_ingest() {
    let cases = [
        ("public/nsys-ai__mock__nsys2026.1.1.sqlite", "3.24.14", 2),
        ("public/aws_gpu__report2__nsys2025.1.3.sqlite", "3.17.2", 1),
        (
            "public/WeatherBench2__report1__nsys2025.5.1.sqlite",
            "3.23.3",
            0,
        ),
    ];
    for (file, schema, kernels) in cases {
        let out = tempfile::tempdir().unwrap();
        let summary = ingest(&[fixture(file)], out.path());
        assert_eq!(summary.kernels, kernels, "{file}");
        let runs = read_table(out.path(), "runs", &summary.run_id);
        assert_eq!(
            runs.column_by_name("schema_version")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            schema
        );
        if kernels == 0 {
            assert!(
                summary
                    .survey
                    .warnings
                    .iter()
                    .any(|w| w.contains("no CUPTI_ACTIVITY_KIND_KERNEL table")),
                "{:?}",
                summary.survey.warnings
            );
        }
    }
    // aws_gpu carries 2370 UVM memcpys.
    let out = tempfile::tempdir().unwrap();
    let summary = ingest(
        &[fixture("public/aws_gpu__report2__nsys2025.1.3.sqlite")],
        out.path(),
    );
    assert_eq!(summary.memops, 2370);
}

fn synthetic(s: Synth) -> (tempfile::TempDir, sgl_trace::ingest::Summary) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("synth.sqlite");
    build(&input, s);
    let summary = ingest(&[input], &dir.path().join("out"));
    (dir, summary)
}

#[test]
fn old_layout_and_registered_strings_attribute_the_same() {
    for s in [
        Synth::default(),
        Synth {
            meta_table: "EXPORT_META_DATA",
            schema_version: "2.9.1",
            green_context: false,
            ..Synth::default()
        },
        Synth {
            nvtx: Nvtx::TextId,
            ..Synth::default()
        },
        Synth {
            shuffled: true,
            ..Synth::default()
        },
        Synth {
            nvtx: Nvtx::StartEnd,
            ..Synth::default()
        },
    ] {
        let (dir, summary) = synthetic(s);
        assert_eq!(
            (summary.kernels, summary.labelled, summary.steps),
            (4, 3, 2),
            "{s:?}"
        );
        let runs = read_table(&dir.path().join("out"), "runs", "synth");
        assert_eq!(
            runs.column_by_name("schema_version")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            s.schema_version
        );
        let steps = read_table(&dir.path().join("out"), "steps", "synth");
        let phase = steps.column_by_name("phase").unwrap().as_string::<i32>();
        let get = |c: &str| {
            steps
                .column_by_name(c)
                .unwrap()
                .as_primitive::<Int64Type>()
                .clone()
        };
        let decode = (0..steps.num_rows())
            .find(|&i| phase.value(i) == "decode")
            .unwrap();
        // MoE [3200,3300) and all-reduce [3250,3400) from one graph launch.
        assert_eq!(get("kernels").value(decode), 2);
        assert_eq!(get("graph_kernels").value(decode), 2);
        assert_eq!(get("gpu_busy_ns").value(decode), 200);
        assert_eq!(get("comm_ns").value(decode), 150);
        assert_eq!(get("comm_hidden_ns").value(decode), 50);
        assert_eq!(get("comm_exposed_ns").value(decode), 100);
        assert_eq!(get("gpu_idle_ns").value(decode), 0);
        // The nested, unlabelled `layer0` range does not hide the prefill label.
        let kernels = read_table(&dir.path().join("out"), "kernels", "synth");
        let kphase = kernels.column_by_name("phase").unwrap().as_string::<i32>();
        let bsz = kernels
            .column_by_name("bsz")
            .unwrap()
            .as_primitive::<Int32Type>();
        assert_eq!((kphase.value(0), bsz.value(0)), ("prefill", 2));
        assert!(
            kphase.is_null(3),
            "the kernel outside any step keeps a null phase"
        );
        let api = kernels.column_by_name("api").unwrap().as_string::<i32>();
        assert_eq!(
            (api.value(0), api.value(1)),
            ("cudaLaunchKernel", "cudaGraphLaunch")
        );
        // NVTX depth: layer0 nests in prefill.
        let nvtx = read_table(&dir.path().join("out"), "nvtx", "synth");
        let depth = nvtx
            .column_by_name("depth")
            .unwrap()
            .as_primitive::<Int32Type>();
        assert_eq!(depth.values().to_vec(), vec![0, 1, 0, 0]);
    }
}

#[test]
fn missing_tables_are_warnings_not_failures() {
    let (_d, s) = synthetic(Synth {
        nvtx: Nvtx::Missing,
        ..Synth::default()
    });
    assert_eq!((s.kernels, s.labelled), (4, 0));
    assert!(
        s.survey
            .warnings
            .iter()
            .any(|w| w.contains("no NVTX_EVENTS table")),
        "{:?}",
        s.survey.warnings
    );

    let (_d, s) = synthetic(Synth {
        kernels: false,
        ..Synth::default()
    });
    assert_eq!((s.kernels, s.steps), (0, 2));

    let (_d, s) = synthetic(Synth {
        runtime: false,
        ..Synth::default()
    });
    assert_eq!((s.kernels, s.labelled), (4, 0));
    assert!(
        s.survey
            .warnings
            .iter()
            .any(|w| w.contains("CUPTI_ACTIVITY_KIND_RUNTIME")),
        "{:?}",
        s.survey.warnings
    );
}

#[test]
fn missing_required_column_names_table_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("odd.sqlite");
    let c = Connection::open(&input).unwrap();
    c.execute_batch(
        "CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT);
         CREATE TABLE META_DATA_EXPORT (name TEXT, value TEXT);
         CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER, end INTEGER, shortName INTEGER);
         INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (1, 2, 3);",
    )
    .unwrap();
    drop(c);
    let out = dir.path().join("out");
    let err = ingest::run(&config(vec![input], &out))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("odd.sqlite")
            && err.contains("CUPTI_ACTIVITY_KIND_KERNEL")
            && err.contains("deviceId"),
        "{err}"
    );
    assert!(!out.join("kernels").exists(), "no partial output");
}
