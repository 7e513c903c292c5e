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

/// Why text that is shaped like a step label was refused (a survey reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `bsz` or `seq` is not an integer in 1..=2^31-1 (e.g. `-1`, `abc`, `1e30`).
    Shape,
    /// `iter` is not an integer in 0..=2^31-1.
    Iter,
    /// A field is repeated, unknown, lacks `=`, or `bsz`/`seq` is missing.
    Fields,
}

impl Refusal {
    /// The survey reason for this refusal.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Shape => {
                "step label with bsz/seq not an integer in 1..=2147483647 (step not attributed)"
            }
            Refusal::Iter => {
                "step label with iter not an integer in 0..=2147483647 (step not attributed)"
            }
            Refusal::Fields => {
                "step label with a missing, repeated or unknown field (step not attributed)"
            }
        }
    }
}

/// Parses a batch size or sequence length: an integer in 1..=`i32::MAX`. The one
/// rule shared by labels and the capture grid, so the grid never plans a shape the
/// label parser would refuse.
pub fn shape_value(text: &str) -> Option<i32> {
    text.trim().parse::<i32>().ok().filter(|v| *v > 0)
}

impl Label {
    /// Parses `text`; returns `None` when it does not follow the convention.
    ///
    /// ```
    /// use sgl_trace::attribute::Label;
    /// let l = Label::parse("trace:decode|bsz=4|seq=512|iter=2").unwrap();
    /// assert_eq!((l.phase.as_str(), l.bsz, l.seq, l.iter), ("decode", 4, 512, Some(2)));
    /// assert!(Label::parse("cub::DeviceReduce::Sum").is_none());
    /// assert!(Label::parse("decode|bsz=-1|seq=8").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Label> {
        Label::check(text).ok().flatten()
    }

    /// Like [`Label::parse`], but tells text that is no label at all (`Ok(None)`)
    /// from a label with impossible values (`Err`), which importers count.
    /// Label-shaped means: a phase, then `|`-separated fields, one of them `bsz=` or
    /// `seq=`.
    pub fn check(text: &str) -> Result<Option<Label>, Refusal> {
        let text = text.trim();
        let text = text.strip_prefix("trace:").unwrap_or(text);
        let mut parts = text.split('|');
        let phase = parts.next().unwrap_or_default().trim();
        let fields: Vec<&str> = parts.collect();
        let label_shaped = fields.iter().any(|f| {
            let key = f.split('=').next().unwrap_or_default().trim();
            key == "bsz" || key == "seq"
        });
        // A phase is one word: no `=`, no whitespace and no `:` (so the optional
        // `trace:` prefix is never ambiguous: `trace:trace:x|…` is no label).
        if phase.is_empty()
            || phase.contains('=')
            || phase.contains(':')
            || phase.contains(char::is_whitespace)
            || !label_shaped
        {
            return Ok(None);
        }
        let (mut bsz, mut seq, mut iter) = (None, None, None);
        for part in fields {
            let (key, value) = part.split_once('=').ok_or(Refusal::Fields)?;
            let (slot, value) = match key.trim() {
                "bsz" => (&mut bsz, shape_value(value).ok_or(Refusal::Shape)?),
                "seq" => (&mut seq, shape_value(value).ok_or(Refusal::Shape)?),
                "iter" => (
                    &mut iter,
                    value
                        .trim()
                        .parse::<i32>()
                        .ok()
                        .filter(|i| *i >= 0)
                        .ok_or(Refusal::Iter)?,
                ),
                _ => return Err(Refusal::Fields),
            };
            if slot.replace(value).is_some() {
                return Err(Refusal::Fields);
            }
        }
        Ok(Some(Label {
            phase: phase.to_string(),
            bsz: bsz.ok_or(Refusal::Fields)?,
            seq: seq.ok_or(Refusal::Fields)?,
            iter,
        }))
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
            // Found by the label fuzz target: parsed as phase `trace:e`, which wrote
            // back and parsed again became phase `e`.
            "trace:trace:e|bsz=2|seq=512",
            "trace:e:x|bsz=2|seq=512",
        ] {
            assert_eq!(Label::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn impossible_shapes_are_refused_with_a_reason() {
        for (text, why) in [
            ("decode|bsz=-1|seq=64", Refusal::Shape),
            ("decode|bsz=0|seq=64", Refusal::Shape),
            ("decode|bsz=abc|seq=64", Refusal::Shape),
            ("decode|bsz=99999999999999999999|seq=64", Refusal::Shape),
            ("decode|bsz=2147483648|seq=64", Refusal::Shape),
            ("decode|bsz=1|seq=64|iter=-3", Refusal::Iter),
            ("decode|bsz=1|bsz=2|seq=2", Refusal::Fields),
            ("decode|bsz=1", Refusal::Fields),
            ("decode|bsz=1|seq=2|foo=3", Refusal::Fields),
        ] {
            assert_eq!(Label::check(text), Err(why), "{text:?}");
            assert_eq!(Label::parse(text), None, "{text:?}");
        }
        assert_eq!(Label::check("aten::mm"), Ok(None));
        assert_eq!(Label::check("layer0|x=1"), Ok(None));
        assert_eq!(shape_value(" 2147483647 "), Some(i32::MAX));
    }
}
