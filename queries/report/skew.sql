-- report: mean busy ms per step of each device, per shape (rank skew)
-- param: run
SELECT phase, bsz, seq, device, avg(gpu_busy_ns) / 1e6 AS busy_ms
FROM steps
WHERE run = ${run} AND device IS NOT NULL
GROUP BY phase, bsz, seq, device
ORDER BY phase DESC, bsz, seq, device
