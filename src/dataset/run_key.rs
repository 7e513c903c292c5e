//! Run ids → partition names (`run=<key>` directories), injectively.
//!
//! A run id is stored as given (the `run_id` column of `runs`); the directory name
//! must be a short, portable file name. Invariants:
//! - an id made only of `[A-Za-z0-9._-]`, not starting with `.`, of at most
//!   [`MAX_PLAIN`] bytes is its own key (readable paths for ordinary ids);
//! - every other id becomes `<readable prefix>.h<FNV-1a 64 of the id, 16 hex>`; an id
//!   that itself ends in `.h` + 16 hex digits is never plain, so a hashed key never
//!   equals a plain one (the marker uses only characters every reader and object
//!   store keeps as they are — `~`, for one, is percent-encoded by object_store);
//! - two distinct ids that still met on one key (a 64-bit hash collision) are refused
//!   at commit: the run directory records the id it belongs to
//!   ([`crate::dataset::commit`]).

use crate::error::{Error, Result};
use crate::vocab::fnv1a_hex;

/// Longest id kept verbatim as its key (file names stay far below NAME_MAX).
pub const MAX_PLAIN: usize = 100;

/// Longest id accepted at all (it is stored in `runs` and in the run directory).
pub const MAX_ID: usize = 4096;

/// Bytes of the readable prefix of a hashed key.
const PREFIX: usize = 48;

/// The partition key of `run_id`; an empty or absurdly long id is a usage error.
pub fn partition_key(run_id: &str) -> Result<String> {
    if run_id.trim().is_empty() {
        return Err(Error::Usage(
            "the run id is empty; pass --run-id NAME".into(),
        ));
    }
    if run_id.len() > MAX_ID {
        return Err(Error::Usage(format!(
            "the run id is {} bytes long; use at most {MAX_ID} (it names a directory)",
            run_id.len()
        )));
    }
    let plain_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if run_id.len() <= MAX_PLAIN
        && !run_id.starts_with('.')
        && run_id.chars().all(plain_char)
        && !looks_hashed(run_id)
    {
        return Ok(run_id.to_string());
    }
    let mut prefix: String = run_id
        .chars()
        .map(|c| if plain_char(c) { c } else { '_' })
        .take(PREFIX)
        .collect();
    prefix = prefix.trim_start_matches('.').to_string();
    Ok(format!("{prefix}.h{}", fnv1a_hex(run_id.as_bytes())))
}

/// Ends in `.h` and 16 lowercase hex digits, the hashed keys' suffix.
fn looks_hashed(id: &str) -> bool {
    id.len() >= 18
        && id.is_char_boundary(id.len() - 18)
        && id[id.len() - 18..].starts_with(".h")
        && id[id.len() - 16..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_their_own_key() {
        for id in ["mini", "exp_1", "a.b-c", "x".repeat(MAX_PLAIN).as_str()] {
            assert_eq!(partition_key(id).unwrap(), id);
        }
    }

    #[test]
    fn sanitised_lookalikes_get_distinct_keys() {
        let ids = [
            "exp/1", "exp_1", "exp 1", "exp:1", "ü", "é", ".hidden", "_hidden", "~",
        ];
        // An id that looks like a hashed key is hashed itself.
        let lookalike = partition_key("exp/1").unwrap();
        assert_ne!(partition_key(&lookalike).unwrap(), lookalike);
        let keys: Vec<String> = ids.iter().map(|i| partition_key(i).unwrap()).collect();
        let unique: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{keys:?}");
        for key in &keys {
            assert!(!key.starts_with('.') && !key.contains('/'), "{key}");
            assert!(key.len() <= PREFIX + 17, "{key}");
        }
    }

    #[test]
    fn long_ids_are_hashed_and_bounded() {
        let long = "r".repeat(300);
        let key = partition_key(&long).unwrap();
        assert!(key.len() < 80 && looks_hashed(&key), "{key}");
        assert_ne!(partition_key(&"r".repeat(301)).unwrap(), key);
        assert!(partition_key(&"r".repeat(MAX_ID + 1)).is_err());
        assert!(partition_key("  ").is_err());
    }
}
