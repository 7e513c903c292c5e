//! Parallel map, in-order consume: the one scheduling primitive of ingest.
//!
//! Items (kernel chunks, rowid ranges) are produced in windows of one per worker
//! thread on the current rayon pool, while the previous window's results are
//! consumed in item order on the side. So the consumer sees exactly the sequence a
//! single thread would, whatever the thread count, and at most two windows of
//! results are held at once (memory bounded by `2 × threads × chunk`).

use rayon::prelude::*;

use crate::error::Result;

/// Produces `produce(item)` for every item in parallel and hands the results to
/// `consume` in item order; `consume` returning `Ok(false)` stops early.
pub fn map_in_order<I, T, P, C>(items: &[I], produce: P, mut consume: C) -> Result<()>
where
    I: Sync,
    T: Send,
    P: Fn(&I) -> Result<T> + Sync,
    C: FnMut(T) -> Result<bool> + Send,
{
    let window = rayon::current_num_threads().max(1);
    let mut pending: Vec<Result<T>> = Vec::new();
    for batch in items.chunks(window) {
        let ready = std::mem::take(&mut pending);
        let (consumed, produced) = rayon::join(
            || drain(ready, &mut consume),
            || batch.par_iter().map(&produce).collect::<Vec<_>>(),
        );
        if !consumed? {
            return Ok(());
        }
        pending = produced;
    }
    drain(pending, &mut consume).map(|_| ())
}

/// Consumes `results` in order; `Ok(false)` when the consumer asked to stop.
fn drain<T>(results: Vec<Result<T>>, consume: &mut impl FnMut(T) -> Result<bool>) -> Result<bool> {
    for result in results {
        if !consume(result?)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumes_in_order_at_any_thread_count() {
        let items: Vec<u32> = (0..37).collect();
        for threads in [1, 2, 5] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut seen = Vec::new();
            pool.install(|| {
                map_in_order(
                    &items,
                    |i| Ok(i * 10),
                    |v| {
                        seen.push(v);
                        Ok(true)
                    },
                )
            })
            .unwrap();
            assert_eq!(seen, items.iter().map(|i| i * 10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn stops_early_and_passes_errors_on() {
        let items: Vec<u32> = (0..20).collect();
        let mut seen = Vec::new();
        map_in_order(
            &items,
            |i| Ok(*i),
            |v| {
                seen.push(v);
                Ok(v < 3)
            },
        )
        .unwrap();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        let err = map_in_order(
            &items,
            |i| {
                if *i == 7 {
                    Err(crate::Error::Usage("seven".into()))
                } else {
                    Ok(*i)
                }
            },
            |_| Ok(true),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "seven");
    }
}
