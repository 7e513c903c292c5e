-- GPU idle time inside labelled steps (span minus union of kernel intervals), per shape and device
SELECT run, phase, bsz, seq, device,
       count(*) AS steps,
       round(avg(gpu_span_ns) / 1e6, 4) AS span_ms,
       round(avg(gpu_busy_ns) / 1e6, 4) AS busy_ms,
       round(avg(gpu_idle_ns) / 1e6, 4) AS idle_ms,
       round(100.0 * sum(gpu_idle_ns) / nullif(sum(gpu_span_ns), 0), 1) AS idle_pct
FROM steps
WHERE device IS NOT NULL
GROUP BY run, phase, bsz, seq, device
ORDER BY run, phase DESC, bsz, seq, device
