-- report: the kernels with the most GPU time (all phases), with their share of the run's
-- param: run
-- param: limit = 25
-- param: by = block {block, name}
WITH a AS (
  SELECT name, category, count(*) AS calls, sum(dur_ns) AS ns
  FROM (SELECT name, dur_ns, CASE ${by} WHEN 'name' THEN name_category ELSE category END AS category FROM kernels WHERE run = ${run})
  GROUP BY name, category
),
t AS (SELECT sum(dur_ns) AS all_ns FROM kernels WHERE run = ${run})
SELECT name, category, calls, ns / 1e6 AS total_ms, 100.0 * ns / all_ns AS pct
FROM a CROSS JOIN t
ORDER BY ns DESC, name, category
LIMIT ${limit}
