//! Impossible values: the one place that decides which times and shapes cannot be
//! true, so every importer applies the same rule.
//!
//! The rule (documented in `docs/SCHEMA.md`): a row whose start or end lies beyond
//! ±[`MAX_ABS_NS`] (about 146 years from the trace's clock origin), whose end is
//! before its start, or (Kineto) whose `ts`/`dur` is not finite or `dur` negative is
//! **skipped** and counted under the returned reason — never clamped, never stored.
//! Within the bound, `end - start` cannot overflow, so sums of a run's durations
//! stay far from `i64` limits. Step labels with a non-positive or out-of-range
//! shape are rejected by [`crate::attribute::Label`], and counted by the importers.

/// Longest name kept, in bytes. Real kernel names (CUTLASS templates, demangled) stay
/// well below it; a longer one is cut at a char boundary and marked `…[+N bytes]`, so a
/// pathological name shared by many kernels cannot blow up memory (every row carries its
/// name: a 1 MiB name on 1 096 kernels took 1.2 GB before).
pub const MAX_NAME_BYTES: usize = 64 * 1024;

/// `name`, cut to [`MAX_NAME_BYTES`] with the number of bytes dropped appended.
pub fn cap_name(name: String) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let mut cut = MAX_NAME_BYTES;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[+{} bytes]", &name[..cut], name.len() - cut)
}

/// Largest absolute time, in ns, that a real trace can hold (≈ 2^62 ns ≈ 146
/// years); the difference of two such times always fits in `i64`.
pub const MAX_ABS_NS: i64 = i64::MAX / 2;

/// Why a time is impossible (a key of [`crate::ingest::Survey::skipped`]).
pub const TIME_OUT_OF_RANGE: &str = "time beyond ±2^62 ns (corrupt timestamp; row skipped)";
/// Why a time is impossible.
pub const END_BEFORE_START: &str = "end before start (negative duration; row skipped)";
/// Why a Kineto time is impossible.
pub const KINETO_BAD_TIME: &str =
    "Kineto ts or dur not finite, out of range, or dur < 0 (event skipped)";

/// Checks an nsys-style `[start, end]` in ns; returns its duration or the reason
/// to skip the row.
pub fn interval(start: i64, end: i64) -> Result<i64, &'static str> {
    if !(-MAX_ABS_NS..=MAX_ABS_NS).contains(&start) || !(-MAX_ABS_NS..=MAX_ABS_NS).contains(&end) {
        return Err(TIME_OUT_OF_RANGE);
    }
    if end < start {
        return Err(END_BEFORE_START);
    }
    Ok(end - start)
}

/// Converts a Kineto event's `ts`/`dur` (µs, floats) to `(start, end)` in ns, or
/// the reason to skip it. A missing `dur` is an instant (`end == start`).
pub fn kineto_times(ts: f64, dur: Option<f64>) -> Result<(i64, i64), &'static str> {
    let limit = MAX_ABS_NS as f64 / 1000.0;
    let dur = dur.unwrap_or(0.0);
    if !ts.is_finite() || !dur.is_finite() || ts.abs() > limit || !(0.0..=limit).contains(&dur) {
        return Err(KINETO_BAD_TIME);
    }
    let start = (ts * 1000.0).round() as i64;
    let end = start
        .checked_add((dur * 1000.0).round() as i64)
        .ok_or(TIME_OUT_OF_RANGE)?;
    interval(start, end).map(|_| (start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_at_a_char_boundary_and_marked() {
        assert_eq!(cap_name("short".into()), "short");
        let long = format!("a{}", "é".repeat(MAX_NAME_BYTES));
        let capped = cap_name(long.clone());
        let (kept, marker) = capped.split_once('…').unwrap();
        assert!(kept.len() <= MAX_NAME_BYTES && long.starts_with(kept));
        assert_eq!(marker, format!("[+{} bytes]", long.len() - kept.len()));
    }

    #[test]
    fn intervals_within_the_bound_pass() {
        assert_eq!(interval(-5, 10), Ok(15));
        assert_eq!(interval(MAX_ABS_NS - 1, MAX_ABS_NS), Ok(1));
        assert_eq!(interval(-MAX_ABS_NS, MAX_ABS_NS), Ok(i64::MAX - 1));
    }

    #[test]
    fn impossible_intervals_are_refused() {
        assert_eq!(interval(10, 9), Err(END_BEFORE_START));
        assert_eq!(interval(i64::MIN, 0), Err(TIME_OUT_OF_RANGE));
        assert_eq!(interval(0, i64::MAX), Err(TIME_OUT_OF_RANGE));
        assert_eq!(interval(i64::MAX - 1, i64::MAX), Err(TIME_OUT_OF_RANGE));
    }

    #[test]
    fn kineto_times_refuse_nonsense() {
        assert_eq!(kineto_times(1.5, Some(2.0)), Ok((1500, 3500)));
        assert_eq!(kineto_times(1.0, None), Ok((1000, 1000)));
        for (ts, dur) in [
            (1e300, Some(1.0)),
            (0.0, Some(-1.0)),
            (f64::NAN, None),
            (0.0, Some(f64::INFINITY)),
            (-1e300, None),
        ] {
            assert_eq!(kineto_times(ts, dur), Err(KINETO_BAD_TIME), "{ts} {dur:?}");
        }
        // Both halves in range, the sum beyond it.
        assert_eq!(kineto_times(4.0e15, Some(1.0e15)), Err(TIME_OUT_OF_RANGE));
    }
}
