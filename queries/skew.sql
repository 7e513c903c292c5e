-- Rank skew per shape: each device's GPU step span against the slowest rank of the same iteration, how late it started, and the time it waited inside collectives
-- Only iterations that ran on more than one device are shown. Ranks of one iteration are matched on (run, phase, bsz, seq, iter): each rank labels its own step.
-- collective_wait_ms is the device's communication time above the least of any rank in that iteration:
-- the rank that reaches a collective first waits there for the others.
WITH per_rank AS (
    SELECT run, phase, bsz, seq, iter, device, gpu_start_ns, gpu_span_ns, comm_ns,
           max(gpu_span_ns) OVER (PARTITION BY run, phase, bsz, seq, iter) AS slowest_ns,
           min(gpu_start_ns) OVER (PARTITION BY run, phase, bsz, seq, iter) AS first_start_ns,
           min(comm_ns) OVER (PARTITION BY run, phase, bsz, seq, iter) AS least_comm_ns,
           count(*) OVER (PARTITION BY run, phase, bsz, seq, iter) AS ranks
    FROM steps
    WHERE device IS NOT NULL AND iter IS NOT NULL AND gpu_span_ns IS NOT NULL
)
SELECT run, phase, bsz, seq, device,
       count(*) AS steps,
       max(ranks) AS ranks,
       round(avg(gpu_span_ns) / 1e6, 4) AS span_ms,
       round(avg(slowest_ns) / 1e6, 4) AS slowest_span_ms,
       round(100.0 * sum(gpu_span_ns) / sum(slowest_ns), 1) AS pct_of_slowest,
       sum(CASE WHEN gpu_span_ns = slowest_ns THEN 1 ELSE 0 END) AS times_slowest,
       round(avg(gpu_start_ns - first_start_ns) / 1e6, 4) AS start_lag_ms,
       round(avg(comm_ns) / 1e6, 4) AS comm_ms,
       round(avg(comm_ns - least_comm_ns) / 1e6, 4) AS collective_wait_ms
FROM per_rank
WHERE ranks > 1
GROUP BY run, phase, bsz, seq, device
ORDER BY run, phase DESC, bsz, seq, device
