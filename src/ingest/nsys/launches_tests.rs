//! The sorted launch index against a plain map: same call, same repeat count, for
//! any order of insertion, any lookup order and any cursor.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// An index built the way `build` does from ranges scanned in order.
fn index_of(rows: &[(i64, i64, i64)], by_process: bool) -> LaunchIndex {
    let mut index = LaunchIndex {
        by_process,
        ..LaunchIndex::default()
    };
    let mut sorted = true;
    for range in rows.chunks(3) {
        let mut scanned = Scanned::default();
        for &(process, correlation, start) in range {
            let process = if by_process { process } else { 0 };
            let slot = match scanned.processes.iter().position(|&p| p == process) {
                Some(slot) => slot,
                None => {
                    scanned.processes.push(process);
                    scanned.processes.len() - 1
                }
            };
            let call = ApiCall {
                global_tid: Some(process | 7),
                start: Some(start),
                name_id: None,
            };
            scanned
                .entries
                .push(Entry::new(key(slot, correlation).unwrap(), call));
        }
        index.rekey(&mut scanned);
        sorted &= index
            .entries
            .last()
            .zip(scanned.entries.first())
            .is_none_or(|(a, b)| a.key <= b.key)
            && is_sorted(&scanned.entries);
        index.entries.extend_from_slice(&scanned.entries);
    }
    if !sorted {
        index.entries.par_sort_by_key(|e| e.key);
    }
    index.drop_repeats();
    index
}

proptest! {
    #[test]
    fn lookups_match_a_first_wins_map(
        rows in prop::collection::vec((0i64..3, 0i64..40, 0i64..1000), 0..60),
        probes in prop::collection::vec((0i64..3, 0i64..45), 0..80),
        by_process in any::<bool>(),
    ) {
        let rows: Vec<(i64, i64, i64)> =
            rows.into_iter().map(|(p, c, s)| (p << 24, c, s)).collect();
        let index = index_of(&rows, by_process);
        let mut first: BTreeMap<(i64, i64), (i64, u32)> = BTreeMap::new();
        for &(process, correlation, start) in &rows {
            let process = if by_process { process } else { 0 };
            first
                .entry((process, correlation))
                .and_modify(|(_, repeats)| *repeats += 1)
                .or_insert((start, 0));
        }
        let mut cursor = Cursor::default();
        for (process, correlation) in probes {
            let process = process << 24;
            let key = (if by_process { process } else { 0 }, correlation);
            let got = index
                .get(&mut cursor, process, correlation)
                .map(|(call, repeats)| (call.start.unwrap_or(-1), repeats));
            prop_assert_eq!(got, first.get(&key).copied());
        }
    }
}

#[test]
fn a_call_whose_correlation_does_not_pack_is_found_beside_the_index() {
    let mut index = LaunchIndex::default();
    let call = ApiCall {
        global_tid: Some(1),
        start: Some(5),
        name_id: Some(9),
    };
    index.note_wide((0, 1 << 40), call);
    index.note_wide((0, 1 << 40), call);
    let got = index.get(&mut Cursor::default(), 0, 1 << 40);
    assert_eq!(got, Some((call, 1)));
}
