//! The post-capture validation (DESIGN.md §5): a capture that recorded no kernels, a
//! requested grid point with no (or too few) labelled steps, or a step without kernels
//! (a CUDA-graph decode replay traced without node tracing) is an error naming what is
//! missing and where to look, never a dataset that silently lacks it.

use std::collections::BTreeMap;
use std::path::Path;

use super::grid::Point;
use crate::error::{Error, Result};
use crate::ingest::Summary;
use crate::vocab::Shape;

/// Post-capture checks: kernels were recorded, every requested (phase, point) has
/// labelled steps, and no step (a CUDA-graph decode replay in particular) is empty.
/// `steps_per_shape` is what every grid point must have in each phase: the timed
/// iterations times the ranks this node ran (each rank labels its own steps).
pub fn validate(
    summary: &Summary,
    points: &[Point],
    phases: &[&str],
    steps_per_shape: u64,
    report: &Path,
) -> Result<()> {
    let fail = |reason: String| {
        Err(Error::Input {
            path: report.to_path_buf(),
            reason,
        })
    };
    if summary.kernels == 0 {
        return fail("the capture recorded no GPU kernels: did the profiled range run (cudaProfilerStart reached?), and was CUDA traced?".into());
    }
    let mut missing = Vec::new();
    let mut short = Vec::new();
    let mut empty: BTreeMap<String, u64> = BTreeMap::new();
    for phase in phases {
        for p in points {
            match summary
                .shapes
                .get(&Shape::new(phase, i64::from(p.bsz), Some(i64::from(p.seq))))
            {
                None => missing.push(format!("{phase} bsz={} seq={}", p.bsz, p.seq)),
                Some(c) => {
                    if c.steps < steps_per_shape {
                        short.push(format!(
                            "{phase} bsz={} seq={} ({} of {steps_per_shape})",
                            p.bsz, p.seq, c.steps
                        ));
                    }
                    if c.steps_without_kernels > 0 {
                        *empty.entry(phase.to_string()).or_default() += c.steps_without_kernels;
                    }
                }
            }
        }
    }
    if !missing.is_empty() {
        return fail(format!(
            "no labelled steps for {} of the requested grid points: {} (was the capture range cut short? see the run log)",
            missing.len(),
            missing.join(", ")
        ));
    }
    if !short.is_empty() {
        return fail(format!(
            "some ranks' steps are missing: {} (iterations × ranks on this node expected; did every rank run inside the capture range? see the run log)",
            short.join(", ")
        ));
    }
    if let Some((phase, n)) = empty.into_iter().next() {
        return fail(format!(
            "{n} {phase} step(s) have no kernels: graph-replayed steps need `--cuda-graph-trace=node`, and the kernels must launch inside the labelled range"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ShapeCount;

    fn summary(shapes: &[(&str, i32, i32, u64, u64)]) -> Summary {
        let mut s = Summary {
            kernels: 10,
            ..Summary::default()
        };
        for (phase, b, q, steps, empty) in shapes {
            s.shapes.insert(
                Shape::new(phase, i64::from(*b), Some(i64::from(*q))),
                ShapeCount {
                    steps: *steps,
                    steps_without_kernels: *empty,
                },
            );
        }
        s
    }

    #[test]
    fn validation_names_what_is_missing() {
        let points = [Point { bsz: 1, seq: 128 }, Point { bsz: 4, seq: 128 }];
        let both = ["prefill", "decode"];
        let ok = summary(&[
            ("prefill", 1, 128, 3, 0),
            ("prefill", 4, 128, 3, 0),
            ("decode", 1, 128, 3, 0),
            ("decode", 4, 128, 3, 0),
        ]);
        assert!(validate(&ok, &points, &both, 3, Path::new("r.sqlite")).is_ok());
        // Two ranks of three iterations each: 3 steps per shape means one rank is missing.
        let err = validate(&ok, &points, &both, 6, Path::new("r.sqlite"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ranks' steps are missing")
                && err.contains("decode bsz=4 seq=128 (3 of 6)"),
            "{err}"
        );
        let err = validate(
            &summary(&[("prefill", 1, 128, 3, 0)]),
            &points,
            &["prefill"],
            3,
            Path::new("r.sqlite"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("prefill bsz=4 seq=128"), "{err}");
        let err = validate(
            &summary(&[("decode", 1, 128, 3, 3), ("decode", 4, 128, 3, 0)]),
            &points,
            &["decode"],
            3,
            Path::new("r"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("3 decode step(s) have no kernels"), "{err}");
        let mut none = ok.clone();
        none.kernels = 0;
        assert!(validate(&none, &points, &both, 3, Path::new("r"))
            .unwrap_err()
            .to_string()
            .contains("no GPU kernels"));
    }
}
