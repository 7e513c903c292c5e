-- Communication kernels hidden under compute vs exposed, per device and phase (interval unions computed at ingest)
SELECT run, device, phase,
       count(*) AS steps,
       round(sum(comm_ns) / 1e6, 4) AS comm_ms,
       round(sum(comm_hidden_ns) / 1e6, 4) AS hidden_ms,
       round(sum(comm_exposed_ns) / 1e6, 4) AS exposed_ms,
       round(100.0 * sum(comm_hidden_ns) / nullif(sum(comm_ns), 0), 1) AS hidden_pct,
       round(100.0 * sum(comm_exposed_ns) / nullif(sum(gpu_busy_ns), 0), 1) AS exposed_pct_of_busy
FROM steps
WHERE device IS NOT NULL
GROUP BY run, device, phase
ORDER BY run, device, phase DESC
