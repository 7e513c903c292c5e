//! Nothing private leaks: the profiled process's environment, command line and
//! host name never reach the dataset, only the whitelisted run facts do.

use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::common::{files_under, ingest, read_table};
use crate::synthetic::{build, Synth, SECRET};

#[test]
fn planted_secret_reaches_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("secret.sqlite");
    build(
        &input,
        Synth {
            secret: true,
            ..Synth::default()
        },
    );
    // The fixture really carries the secret where nsys puts such things.
    assert!(std::fs::read(&input)
        .unwrap()
        .windows(SECRET.len())
        .any(|w| w == SECRET.as_bytes()));

    let out = dir.path().join("out");
    let summary = ingest(&[input], &out);
    assert_eq!(summary.labelled, 3);
    for table in ["kernels", "memops", "steps", "nvtx", "runs"] {
        let batch = read_table(&out, table, "secret");
        let text = pretty_format_batches(&[batch]).unwrap().to_string();
        assert!(!text.contains("SECRET"), "{table} leaks:\n{text}");
    }
    for file in files_under(&out) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"SECRET"),
            "{}",
            file.display()
        );
    }
    // The whitelisted facts are there.
    let runs = pretty_format_batches(&[read_table(&out, "runs", "secret")])
        .unwrap()
        .to_string();
    assert!(
        runs.contains("NVIDIA H100 80GB HBM3") && runs.contains("13000") && runs.contains("Node"),
        "{runs}"
    );
}
