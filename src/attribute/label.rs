//! The step label convention: `[trace:]<phase>|bsz=<b>|seq=<s>|iter=<i>`.
//!
//! The harness names every timed forward this way, both as an NVTX range and as a
//! PyTorch `record_function`. The `trace:` prefix is optional, `iter` may be absent
//! (e.g. hand-annotated ranges), and fields after the phase may come in any order.
//! Anything else is not a label and is ignored for attribution.

/// A parsed step label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// `prefill`, `decode`, or whatever phase name the harness used.
    pub phase: String,
    pub bsz: i32,
    pub seq: i32,
    pub iter: Option<i32>,
}

impl Label {
    /// Parses `text`; returns `None` when it does not follow the convention.
    ///
    /// ```
    /// use sgl_trace::attribute::Label;
    /// let l = Label::parse("trace:decode|bsz=4|seq=512|iter=2").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq, l.iter), ("decode", 4, 512, Some(2)));
    /// assert!(Label::parse("cub::DeviceReduce::Sum").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Label> {
        let text = text.trim();
        let text = text.strip_prefix("trace:").unwrap_or(text);
        let mut parts = text.split('|');
        let phase = parts.next()?.trim();
        if phase.is_empty() || phase.contains('=') || phase.contains(char::is_whitespace) {
            return None;
        }
        let (mut bsz, mut seq, mut iter) = (None, None, None);
        for part in parts {
            let (key, value) = part.split_once('=')?;
            let value: i32 = value.trim().parse().ok()?;
            let slot = match key.trim() {
                "bsz" => &mut bsz,
                "seq" => &mut seq,
                "iter" => &mut iter,
                _ => return None,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        Some(Label {
            phase: phase.to_string(),
            bsz: bsz?,
            seq: seq?,
            iter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_prefix_and_missing_iter() {
        assert_eq!(
            Label::parse("prefill|bsz=1|seq=128|iter=0"),
            Some(Label {
                phase: "prefill".into(),
                bsz: 1,
                seq: 128,
                iter: Some(0)
            })
        );
        let l = Label::parse("trace:decode|seq=64|bsz=8").unwrap();
        assert_eq!((l.bsz, l.seq, l.iter), (8, 64, None));
    }

    #[test]
    fn rejects_near_misses() {
        for text in [
            "",
            "prefill",
            "prefill|bsz=1",
            "prefill|bsz=x|seq=1",
            "prefill|bsz=1|seq=2|foo=3",
            "prefill|bsz=1|bsz=2|seq=2",
            "aten::mm, op_id = 3",
            "|bsz=1|seq=2",
        ] {
            assert_eq!(Label::parse(text), None, "{text:?}");
        }
    }
}
