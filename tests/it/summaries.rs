//! `step_categories` is exactly `kernels` grouped per step, device, categories,
//! category source and launch — for every importer — and a dataset whose runs predate
//! it (schema 1) answers the shipped queries the same, saying which runs to re-ingest.

use std::path::Path;

use crate::common::{fixture, ingest, run_ok, trace};

const KEYS: &str =
    "run, step, phase, bsz, seq, iter, device, category, name_category, category_source, launch";

fn csv(data: &Path, args: &[&str]) -> (String, String) {
    let out = run_ok(
        trace()
            .args(["query", "--format", "csv", "--data"])
            .arg(data)
            .args(args),
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn dataset(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    for input in [
        "nsys/mini.sqlite",
        "nsys/tp2.sqlite",
        "nsys/hf_modules_graph.sqlite",
        "nsys/sglang_qwen3moe_2l.sqlite",
        "kineto/hf.kineto.json.gz",
        "nsys-pairs/h200_pq_eager.parquetdir",
        "public/tracelens_sglang_qwen3_30b_a3b_mi300x_decode.json.gz",
    ] {
        ingest(&[fixture(input)], &data);
    }
    data
}

#[test]
fn step_categories_is_kernels_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let grouped = format!(
        "SELECT {KEYS}, count(*) AS kernels, sum(dur_ns) AS gpu_ns, \
         sum(CASE WHEN module IS NOT NULL THEN dur_ns ELSE 0 END) AS module_ns \
         FROM kernels GROUP BY {KEYS} ORDER BY {KEYS}"
    );
    let summary =
        format!("SELECT {KEYS}, kernels, gpu_ns, module_ns FROM step_categories ORDER BY {KEYS}");
    let (a, _) = csv(&data, &["--sql", &grouped]);
    let (b, _) = csv(&data, &["--sql", &summary]);
    assert_eq!(a, b);
    let rows = a.lines().count() - 1;
    let (kernels, _) = csv(&data, &["--sql", "SELECT count(*) AS n FROM kernels"]);
    let kernels: usize = kernels.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        rows * 10 < kernels,
        "{rows} summary rows for {kernels} kernels"
    );
    let (runs, _) = csv(
        &data,
        &[
            "--sql",
            "SELECT count(DISTINCT run) AS n FROM step_categories",
        ],
    );
    assert_eq!(runs.lines().nth(1), Some("7"));
}

#[test]
fn runs_without_summaries_answer_the_same_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let questions: &[&[&str]] = &[
        &["categories-by-shape"],
        &["categories-by-shape", "--by", "name"],
        &["kernels-by-phase"],
        &["coverage"],
        &["categories-by-shape", "--run", "mini"],
    ];
    let before: Vec<String> = questions.iter().map(|q| csv(&data, q).0).collect();
    // What a dataset written before the table existed looks like.
    std::fs::remove_dir_all(data.join("step_categories")).unwrap();
    for generation in crate::common::files_under(&data.join(".runs")) {
        if generation
            .components()
            .any(|c| c.as_os_str() == "step_categories")
        {
            let _ = std::fs::remove_file(&generation);
        }
    }
    for (question, expected) in questions.iter().zip(&before) {
        let (answer, note) = csv(&data, question);
        assert_eq!(&answer, expected, "{question:?}");
        assert!(
            note.contains("predate per-step summaries"),
            "{question:?}: {note}"
        );
    }
    // A new ingest has its summary: only the others are named.
    ingest(&[fixture("nsys/mini.sqlite")], &data);
    let (_, note) = csv(&data, &["kernels-by-phase"]);
    assert!(
        note.contains("6 run(s)") && !note.contains("mini,"),
        "{note}"
    );
}
