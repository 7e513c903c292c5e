//! What a capture produces besides the trace: the harness's latency lines as the
//! `latency` table and the seed-compatible `results/csv/benchmark.csv` rows (`--save`).
//! The post-capture validation is [`super::validate`].

use std::io::Write;
use std::path::Path;

use serde::Deserialize;

use crate::arch::flops::{self, Forward, Phase};
use crate::arch::peaks::{self, Precision};
use crate::arch::Arch;
use crate::dataset::schema::LatencyBuilder;
use crate::dataset::{Staging, TableWriter};
use crate::error::{Error, Result};

/// One line of the harness's `latency.jsonl`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LatencyRow {
    pub phase: String,
    pub bsz: u32,
    pub seq: u32,
    pub rank: u32,
    pub iters: u32,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

/// A grid point the harness skipped (`"skipped": reason`, e.g. out of GPU memory).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SkippedRow {
    pub phase: String,
    pub bsz: u32,
    pub seq: u32,
    pub rank: u32,
    pub skipped: String,
}

/// Reads `latency.jsonl` into measured and skipped rows; a malformed line is an
/// error naming file and line.
pub fn read_latency(path: &Path) -> Result<(Vec<LatencyRow>, Vec<SkippedRow>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let (mut rows, mut skipped) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |e: serde_json::Error| Error::Input {
            path: path.to_path_buf(),
            reason: format!("line {}: {e}", i + 1),
        };
        let value: serde_json::Value = serde_json::from_str(line).map_err(bad)?;
        if value.get("skipped").is_some() {
            skipped.push(serde_json::from_value(value).map_err(bad)?);
        } else {
            rows.push(serde_json::from_value(value).map_err(bad)?);
        }
    }
    Ok((rows, skipped))
}

/// Writes part `part` of the `latency` table of `run_id` under `out_dir` (staged,
/// then committed; the run's other parts are kept).
pub fn write_latency_table(
    out_dir: &Path,
    run_id: &str,
    part: &str,
    rows: &[LatencyRow],
) -> Result<()> {
    let mut staging = Staging::begin(out_dir, run_id)?;
    staging.claim_part(part)?;
    let mut out = TableWriter::<LatencyBuilder>::create(&staging.part_path("latency", part)?)?;
    for row in rows {
        let r = &mut out.rows;
        r.phase.append_value(&row.phase);
        r.bsz.append_value(row.bsz as i32);
        r.seq.append_value(row.seq as i32);
        r.rank.append_value(row.rank as i32);
        r.iters.append_value(row.iters as i32);
        r.mean_ms.append_value(row.mean_ms);
        r.p50_ms.append_value(row.p50_ms);
        r.p90_ms.append_value(row.p90_ms);
        r.min_ms.append_value(row.min_ms);
        r.max_ms.append_value(row.max_ms);
        out.row_done()?;
    }
    out.finish()?;
    staging.commit()
}

/// The descriptive columns of a `benchmark.csv` row.
#[derive(Debug, Clone)]
pub struct RunLabels {
    pub model: String,
    pub mconf: String,
    pub base: String,
    pub deploy: String,
    pub backend: String,
    pub engine: String,
    pub run_id: String,
}

pub const CSV_HEADER: &str =
    "run_id,model,mconf,base,deploy,backend,engine,phase,bsz,seq_len,rank,iters,latency_ms,p50_ms,p90_ms,min_ms,max_ms,gpu,gpus,tflops,mfu_pct";

/// Appends rank-0 rows to `csv` (header written when the file is new). MFU uses the
/// model config when given and the GPU model when its peak is known. Returns how
/// many rows got no FLOPs because their phase is neither prefill nor decode.
pub fn append_csv(
    csv: &Path,
    labels: &RunLabels,
    rows: &[LatencyRow],
    arch: Option<&Arch>,
    gpu: Option<&str>,
    gpus: u32,
) -> Result<u64> {
    if let Some(dir) = csv.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let new = !csv.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(csv)
        .map_err(|e| Error::io(csv, e))?;
    let mut text = String::new();
    if new {
        text.push_str(CSV_HEADER);
        text.push('\n');
    }
    let peak = gpu.and_then(peaks::for_gpu);
    let mut unknown_phase = 0u64;
    for row in rows.iter().filter(|r| r.rank == 0) {
        // A phase other than prefill/decode has no FLOPs: its row keeps its latency,
        // leaves tflops/mfu empty and is counted for the caller's note.
        let phase = Phase::parse(&row.phase);
        if phase.is_none() && arch.is_some() {
            unknown_phase += 1;
        }
        let model_flops = arch.zip(phase).map(|(a, phase)| {
            flops::count(
                a,
                Forward {
                    phase,
                    bsz: row.bsz.into(),
                    seq: row.seq.into(),
                },
                None,
            )
            .total
        });
        let tflops = model_flops.map(|f| f as f64 / 1e12);
        let mfu = match (model_flops, peak, arch) {
            (Some(f), Some(p), Some(a)) => {
                let peak = p.flops_per_s(Precision::of(a));
                Some(100.0 * f as f64 / (row.mean_ms / 1e3 * f64::from(gpus.max(1)) * peak))
            }
            _ => None,
        };
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{}\n",
            labels.run_id,
            labels.model,
            labels.mconf,
            labels.base,
            labels.deploy,
            labels.backend,
            labels.engine,
            row.phase,
            row.bsz,
            row.seq,
            row.rank,
            row.iters,
            row.mean_ms,
            row.p50_ms,
            row.p90_ms,
            row.min_ms,
            row.max_ms,
            gpu.unwrap_or_default().replace(',', " "),
            gpus,
            opt(tflops),
            opt(mfu),
        ));
    }
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io(csv, e))?;
    Ok(unknown_phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_lines_and_csv_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latency.jsonl");
        std::fs::write(&path, "{\"phase\":\"decode\",\"bsz\":1,\"seq\":128,\"rank\":0,\"iters\":2,\"mean_ms\":1.5,\"p50_ms\":1.5,\"p90_ms\":1.9,\"min_ms\":1.0,\"max_ms\":2.0,\"samples_ms\":[1.0,2.0]}\n\
            {\"phase\":\"prefill\",\"bsz\":64,\"seq\":128,\"rank\":0,\"skipped\":\"out of memory\"}\n").unwrap();
        let (rows, skipped) = read_latency(&path).unwrap();
        assert_eq!((rows.len(), rows[0].mean_ms), (1, 1.5));
        assert_eq!(
            (skipped.len(), skipped[0].bsz, skipped[0].skipped.as_str()),
            (1, 64, "out of memory")
        );
        let labels = RunLabels {
            model: "llama3".into(),
            mconf: "2l".into(),
            base: "base".into(),
            deploy: "tp1".into(),
            backend: "fa3".into(),
            engine: "hf".into(),
            run_id: "r1".into(),
        };
        let arch = Arch::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("model_conf/llama3/config_2l.json"),
        )
        .unwrap();
        let csv = dir.path().join("csv/benchmark.csv");
        append_csv(
            &csv,
            &labels,
            &rows,
            Some(&arch),
            Some("NVIDIA H100 80GB HBM3"),
            1,
        )
        .unwrap();
        append_csv(&csv, &labels, &rows, None, None, 1).unwrap();
        let mut warmup = rows.clone();
        warmup[0].phase = "warmup".into();
        let other = dir.path().join("csv/other.csv");
        let unknown = append_csv(&other, &labels, &warmup, Some(&arch), None, 1).unwrap();
        assert_eq!(
            unknown, 1,
            "a warmup phase is counted, not taken for decode"
        );
        let text = std::fs::read_to_string(&other).unwrap();
        assert!(text.lines().nth(1).unwrap().ends_with(",,"), "{text}");
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "one header, two rows");
        assert_eq!(lines[0], CSV_HEADER);
        let f = flops::count(
            &arch,
            Forward {
                phase: Phase::Decode,
                bsz: 1,
                seq: 128,
            },
            None,
        )
        .total as f64;
        let mfu: f64 = lines[1].rsplit(',').next().unwrap().parse().unwrap();
        assert!(
            (mfu - 100.0 * f / (1.5e-3 * 989.4e12)).abs() < 1e-6,
            "{mfu}"
        );
        assert!(lines[2].ends_with(",,"), "no model, no MFU: {}", lines[2]);
        std::fs::write(&path, "{\"phase\": 1}\n").unwrap();
        assert!(read_latency(&path)
            .unwrap_err()
            .to_string()
            .contains("line 1"));
    }
}
