-- What the category rules missed: the kernels classified 'other', by GPU time (edit conf/kernels.yaml and re-ingest)
-- param: top = 20
WITH o AS (
  SELECT run, name, min(demangled) AS demangled, count(*) AS calls, sum(dur_ns) AS total_ns,
         sum(CASE WHEN step IS NOT NULL THEN 1 ELSE 0 END) AS in_steps
  FROM kernels
  WHERE category = 'other'
  GROUP BY run, name
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY run ORDER BY total_ns DESC, name) AS rank FROM o
)
SELECT run, rank, name, calls, in_steps, round(total_ns / 1e6, 3) AS total_ms, substr(demangled, 1, 120) AS demangled
FROM ranked
WHERE rank <= ${top}
ORDER BY run, rank
