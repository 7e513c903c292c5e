-- report: each category_source's share of the run's GPU time (as coverage.sql counts it)
-- param: run
WITH t AS (SELECT sum(dur_ns) AS all_ns FROM kernels WHERE run = ${run})
SELECT category_source, 100.0 * sum(dur_ns) / max(all_ns) AS pct
FROM kernels CROSS JOIN t
WHERE run = ${run} AND all_ns > 0
GROUP BY category_source
ORDER BY pct DESC, category_source
