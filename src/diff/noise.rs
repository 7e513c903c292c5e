//! The diff's noise model: a percentile bootstrap of the difference of two means,
//! resampling each run's per-step values (one value per labelled step, i.e. per
//! iteration and process) with replacement.
//!
//! Invariants: deterministic — the generator is SplitMix64 seeded from the row's key,
//! so the same inputs give the same interval on every machine and in any row order;
//! two runs with the same samples give an interval around 0 (exactly [0, 0] when
//! every sample is equal).

/// Resamples per interval.
pub const RESAMPLES: usize = 2000;

/// SplitMix64: small, fast, and fully specified (no crate, no platform dependence).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// FNV-1a 64 of `key`: the seed of a row's resampling.
pub fn seed_of(key: &str) -> u64 {
    crate::vocab::fnv1a64(key.as_bytes())
}

/// 95% percentile-bootstrap interval of `mean(new) - mean(base)`.
pub fn mean_difference_interval(base: &[f64], new: &[f64], seed: u64) -> (f64, f64) {
    if base.is_empty() || new.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SplitMix64(seed);
    let mut resample = |values: &[f64]| {
        let n = values.len();
        (0..n).map(|_| values[rng.below(n)]).sum::<f64>() / n as f64
    };
    let mut diffs: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            let b = resample(base);
            resample(new) - b
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let at = |q: f64| diffs[((RESAMPLES - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_give_an_interval_around_zero() {
        let v = [1.0, 1.2, 0.9];
        let (lo, hi) = mean_difference_interval(&v, &v, 7);
        assert!(lo < 0.0 && hi > 0.0 && (lo + hi).abs() < 0.05, "{lo} {hi}");
        assert_eq!(
            mean_difference_interval(&[2.0; 3], &[2.0; 3], 7),
            (0.0, 0.0)
        );
    }

    #[test]
    fn a_clear_shift_excludes_zero_and_is_reproducible() {
        let base = [1.0, 1.02, 0.98, 1.01];
        let new: Vec<f64> = base.iter().map(|v| v * 1.2).collect();
        let a = mean_difference_interval(&base, &new, seed_of("k"));
        assert!(a.0 > 0.0 && a.1 < 0.3, "{a:?}");
        assert_eq!(a, mean_difference_interval(&base, &new, seed_of("k")));
    }

    #[test]
    fn overlapping_noise_includes_zero() {
        let base = [1.0, 1.5, 0.6, 1.2];
        let new = [1.1, 0.7, 1.4, 1.0];
        let (lo, hi) = mean_difference_interval(&base, &new, 1);
        assert!(lo < 0.0 && hi > 0.0, "{lo} {hi}");
    }
}
