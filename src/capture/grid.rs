//! The batch-size × sequence-length grid: `conf/grid.csv` (the seed's
//! `scripts/bsz_seq.csv`) or `--grid`. Each line is `{bsz,…};{seq,…}` and stands
//! for every combination of its lists; several lines add up, duplicates collapse,
//! order follows first appearance. Blank lines and `#` comments are skipped; anything
//! else that does not parse is an error naming the line.

use std::collections::HashSet;
use std::path::Path;

use crate::attribute::label::shape_value;
use crate::error::{Error, Result};

/// One (batch size, sequence length) point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point {
    pub bsz: u32,
    pub seq: u32,
}

/// Parses grid text; `origin` names it in errors.
pub fn parse(text: &str, origin: &Path) -> Result<Vec<Point>> {
    let mut points: Vec<Point> = Vec::new();
    // Duplicate check in O(1) per point (a 400×400 line is 160 000 points).
    let mut seen: HashSet<Point> = HashSet::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let error = |reason: String| Error::Config {
            path: origin.to_path_buf(),
            line: Some(index + 1),
            reason: format!(
                "{reason} in {line:?}; expected `bsz,bsz,…;seq,seq,…` such as `1,2,4;128,256`"
            ),
        };
        let (bszs, seqs) = line
            .split_once(';')
            .ok_or_else(|| error("missing ';' between batch sizes and sequence lengths".into()))?;
        let list = |part: &str, what: &str| -> Result<Vec<u32>> {
            part.split(',')
                .map(|v| match shape_value(v) {
                    // The label parser's rule, so every planned step is attributable.
                    Some(n) => Ok(n as u32),
                    None => Err(error(format!(
                        "{what} {:?} is not an integer in 1..=2147483647",
                        v.trim()
                    ))),
                })
                .collect()
        };
        let (bszs, seqs) = (list(bszs, "batch size")?, list(seqs, "sequence length")?);
        for &bsz in &bszs {
            for &seq in &seqs {
                let point = Point { bsz, seq };
                if seen.insert(point) {
                    points.push(point);
                }
            }
        }
    }
    if points.is_empty() {
        return Err(Error::Config {
            path: origin.to_path_buf(),
            line: None,
            reason: "the grid is empty; give at least one line like `1,2,4;128,256`".into(),
        });
    }
    Ok(points)
}

/// The harness's compact form: `bsz,…;seq,…` per point group, joined by `|`.
pub fn to_spec(points: &[Point]) -> String {
    points
        .iter()
        .map(|p| format!("{};{}", p.bsz, p.seq))
        .collect::<Vec<_>>()
        .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(text: &str) -> Vec<(u32, u32)> {
        parse(text, Path::new("g.csv"))
            .unwrap()
            .iter()
            .map(|p| (p.bsz, p.seq))
            .collect()
    }

    #[test]
    fn lines_expand_and_add_up() {
        assert_eq!(
            points("1,4;128,512"),
            vec![(1, 128), (1, 512), (4, 128), (4, 512)]
        );
        assert_eq!(
            points("# grid\n1;128\n\n2;64 # small\n1;128\n"),
            vec![(1, 128), (2, 64)]
        );
        assert_eq!(
            to_spec(&parse("1,4;128", Path::new("g")).unwrap()),
            "1;128|4;128"
        );
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        for (text, needle) in [
            ("1,2;128\n1,2,128\n", "g.csv:2: missing ';'"),
            ("1,x;128", "batch size \"x\""),
            ("1;0", "sequence length \"0\""),
            ("1;", "sequence length \"\""),
            ("# nothing\n", "the grid is empty"),
            // Sizes the step-label parser refuses are refused here too.
            ("2147483648;1", "batch size \"2147483648\""),
            ("1;-1", "sequence length \"-1\""),
        ] {
            let err = parse(text, Path::new("g.csv")).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn every_point_is_a_label_the_parser_accepts() {
        for p in parse("1,2147483647;1,65536", Path::new("g")).unwrap() {
            let label = format!("decode|bsz={}|seq={}", p.bsz, p.seq);
            assert!(crate::attribute::Label::parse(&label).is_some(), "{label}");
        }
    }

    #[test]
    fn a_large_grid_collapses_duplicates() {
        let list = |n: u32| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        let line = format!("{};{}\n", list(400), list(400));
        let grid = parse(&line.repeat(2), Path::new("g")).unwrap();
        assert_eq!(grid.len(), 160_000);
        assert_eq!(grid[0], Point { bsz: 1, seq: 1 });
        assert_eq!(grid[159_999], Point { bsz: 400, seq: 400 });
    }
}
