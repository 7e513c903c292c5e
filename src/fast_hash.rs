//! A fast, non-cryptographic hasher for the maps on ingest's per-kernel path
//! (string ids, thread keys, step keys, summary cells): SipHash, the standard
//! default, costs more than the rest of such a lookup.
//!
//! Multiply–rotate–xor over 8-byte words (the scheme of rustc's FxHash). Keys come
//! from the input being ingested, so a hostile trace can at worst slow its own
//! ingest down; nothing here is exposed to untrusted callers otherwise.
//! Invariant: the hash of a value never depends on the process or thread, so maps
//! iterate alike across runs (outputs are still always sorted before writing).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The hasher (see the module docs).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x517c_c1b7_2722_0a95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            self.add(u64::from_le_bytes(buf));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            // At most 7 bytes: the last one holds their count, so a tail of zero
            // bytes does not hash like no tail.
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            buf[7] = rest.len() as u8;
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn write_i32(&mut self, n: i32) {
        self.add(n as u32 as u64);
    }

    #[inline]
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A `HashSet` with [`FastHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash_of(value: impl Hash) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(value)
    }

    #[test]
    fn equal_values_hash_equal_and_neighbours_differ() {
        assert_eq!(hash_of("gemm"), hash_of(String::from("gemm")));
        assert_eq!(hash_of((3i64, 4i32)), hash_of((3i64, 4i32)));
        assert_ne!(hash_of("gemm"), hash_of("gemn"));
        // Bytes past a whole word count, and so does the length (str's Hash adds it).
        assert_ne!(hash_of("elementwise_a"), hash_of("elementwise_b"));
        assert_ne!(hash_of("ab"), hash_of("ab\0"));
        let ids: FastSet<u64> = (0..10_000u64).map(hash_of).collect();
        assert_eq!(ids.len(), 10_000, "small integers never collide");
    }
}
