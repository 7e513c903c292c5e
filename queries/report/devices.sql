-- report: mean busy, idle and communication ms per step, per device and phase
-- param: run
SELECT device, phase, count(*) AS steps, avg(gpu_busy_ns) / 1e6 AS busy_ms,
       avg(gpu_idle_ns) / 1e6 AS idle_ms, avg(comm_hidden_ns) / 1e6 AS hidden_ms,
       avg(comm_exposed_ns) / 1e6 AS exposed_ms
FROM steps
WHERE run = ${run} AND device IS NOT NULL
GROUP BY device, phase
ORDER BY device, phase DESC
