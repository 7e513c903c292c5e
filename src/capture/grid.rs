//! The batch-size × sequence-length grid: `conf/grid.csv` (the seed's
//! `scripts/bsz_seq.csv`) or `--grid`. Each line is `{bsz,…};{seq,…}` and stands
//! for every combination of its lists; several lines add up, duplicates collapse,
//! order follows first appearance. Blank lines and `#` comments are skipped; anything
//! else that does not parse is an error naming the line.

use std::path::Path;

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
                .map(|v| match v.trim().parse::<u32>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(error(format!(
                        "{what} {:?} is not a positive integer",
                        v.trim()
                    ))),
                })
                .collect()
        };
        let (bszs, seqs) = (list(bszs, "batch size")?, list(seqs, "sequence length")?);
        for &bsz in &bszs {
            for &seq in &seqs {
                let point = Point { bsz, seq };
                if !points.contains(&point) {
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
        ] {
            let err = parse(text, Path::new("g.csv")).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
