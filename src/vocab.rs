//! The words every layer shares, defined once: the shape of a step, the kernel
//! categories and their one display order, the thread key that joins launches to their process, the hash used
//! wherever a stable id is derived from text, and how a value is written as an SQL
//! string literal.
//!
//! A leaf: it imports nothing from the crate, so ingest, attribution, the dataset,
//! queries, the report and diff can all use it without pointing at each other.
//! Invariants: [`CATEGORIES`] lists every category a rule may assign and then
//! [`OTHER`], last; changing the order changes how reports and summaries list them,
//! never what is stored.

/// The shape of a step: its phase and batch size × sequence length, as stored in
/// the dataset (`phase`, `bsz`, `seq` columns) and read back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Shape {
    pub phase: String,
    pub bsz: i64,
    /// `None` where the step's label does not say (an SGLang `MIXED` step).
    pub seq: Option<i64>,
}

impl Shape {
    /// `decode bsz=4 seq=512`, or `mixed bsz=66` without a seq.
    pub fn label(&self) -> String {
        match self.seq {
            Some(seq) => format!("{} bsz={} seq={seq}", self.phase, self.bsz),
            None => format!("{} bsz={}", self.phase, self.bsz),
        }
    }

    /// Prefill before decode (as the shipped queries: `phase DESC`), then bsz, seq
    /// (a missing seq first).
    pub fn sort_key(&self) -> (std::cmp::Reverse<String>, i64, Option<i64>) {
        (std::cmp::Reverse(self.phase.clone()), self.bsz, self.seq)
    }
}

impl Shape {
    pub fn new(phase: &str, bsz: i64, seq: Option<i64>) -> Shape {
        Shape {
            phase: phase.to_string(),
            bsz,
            seq,
        }
    }
}

/// What a kernel no rule names is (`category = 'other'`).
pub const OTHER: &str = "other";

/// Collectives (all-reduce, all-gather, …); the category overlap accounting reads.
pub const COMMUNICATION: &str = "communication";

/// Every category, in the order reports and summaries show them; [`OTHER`] last.
pub const CATEGORIES: &[&str] = &[
    "attention",
    "moe",
    "gemm",
    COMMUNICATION,
    "norm",
    "rotary",
    "activation",
    "quantization",
    "sampling",
    "kv_cache",
    "memory",
    "compiled",
    "elementwise",
    OTHER,
];

/// `text` with control characters other than `keep` written as escapes
/// (`\u{1b}`), so data never drives the terminal.
pub fn without_controls(text: &str, keep: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !keep.contains(&c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// A name as a message shows it: control characters escaped, at most `max` chars
/// (then `…[+N bytes]`), so a 64 KiB kernel name does not flood a warning.
pub fn shown(name: &str, max: usize) -> String {
    let end = name.char_indices().nth(max).map_or(name.len(), |(i, _)| i);
    let mut out = without_controls(&name[..end], &[]);
    if end < name.len() {
        out.push_str(&format!("…[+{} bytes]", name.len() - end));
    }
    out
}

/// A file name as text, one-to-one: valid UTF-8 as it is (a backslash doubled),
/// each byte that is not UTF-8 as `\xNN`, so names that differ only in such bytes
/// (bytes ff fe vs fe ff) stay distinct run ids and parts, where a lossy conversion
/// would make both `bad��`.
pub fn os_text(name: &std::ffi::OsStr) -> String {
    let mut out = String::new();
    for chunk in name.as_encoded_bytes().utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// Which of a kernel's two categories a question groups by: `block`, the block it
/// ran in (`kernels.category`, modules first), or `name`, the kind of work its name
/// says wherever it ran (`kernels.name_category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoryAxis {
    #[default]
    Block,
    Name,
}

impl CategoryAxis {
    /// The value of the shipped queries' `by` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryAxis::Block => "block",
            CategoryAxis::Name => "name",
        }
    }
}

/// The categories a rule may assign: all of [`CATEGORIES`] but [`OTHER`].
pub fn assignable_categories() -> impl Iterator<Item = &'static str> {
    CATEGORIES.iter().copied().filter(|c| *c != OTHER)
}

/// Sort key of `category` in [`CATEGORIES`] order (unknown ones last, by name).
pub fn category_rank(category: &str) -> (usize, String) {
    let rank = CATEGORIES
        .iter()
        .position(|c| *c == category)
        .unwrap_or(CATEGORIES.len());
    (rank, category.to_string())
}

/// The thread key of (process, thread): nsys's `globalTid` layout, which Kineto ids are
/// packed into too (`pid << 24 | tid`, the tid's low 24 bits).
pub fn thread_key(pid: i64, tid: i64) -> i64 {
    (pid << 24) | (tid & 0xFF_FFFF)
}

/// The process part of a thread key: what two threads of one process share.
pub fn process_of(thread: i64) -> i64 {
    thread >> 24
}

/// FNV-1a, 64 bits: stable across platforms and releases.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// [`fnv1a64`] as 16 hex digits.
pub fn fnv1a_hex(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))
}

/// `value` as an SQL string literal: quoted, inner quotes doubled, so it can never
/// become SQL syntax.
pub fn sql_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shown_short_and_harmless() {
        assert_eq!(shown("k\u{1b}[31m", 10), "k\\u{1b}[31m");
        let long = "x".repeat(70_000);
        assert_eq!(shown(&long, 5), "xxxxx…[+69995 bytes]");
        assert_eq!(without_controls("a\nb\tc", &['\n']), "a\nb\\u{9}c");
    }

    #[cfg(unix)]
    #[test]
    fn file_names_become_text_one_to_one() {
        use std::os::unix::ffi::OsStrExt;
        let text = |b: &[u8]| os_text(std::ffi::OsStr::from_bytes(b));
        assert_eq!(text(b"mini.sqlite"), "mini.sqlite");
        assert_eq!(text(b"bad\xff\xfename"), "bad\\xff\\xfename");
        assert_ne!(text(b"bad\xff\xfename"), text(b"bad\xfe\xffname"));
        // A literal backslash cannot pose as an escaped byte.
        assert_ne!(text(b"bad\\xffname"), text(b"bad\xffname"));
    }

    #[test]
    fn one_order_other_last_and_stable_hashes() {
        assert_eq!(CATEGORIES.last(), Some(&OTHER));
        assert_eq!(assignable_categories().count(), CATEGORIES.len() - 1);
        assert!(category_rank("attention") < category_rank("moe"));
        assert!(category_rank("other") < category_rank("zzz"));
        assert_eq!(fnv1a_hex(b""), "cbf29ce484222325");
        assert_eq!(fnv1a_hex(b"a"), "af63dc4c8601ec8c");
        assert_eq!(process_of(thread_key(7, 0x1234_5678)), 7);
        assert_eq!(thread_key(7, 0x1234_5678) & 0xFF_FFFF, 0x34_5678);
        assert_eq!(sql_string("it's"), "'it''s'");
    }
}
