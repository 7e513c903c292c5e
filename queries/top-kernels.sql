-- The kernels with the most GPU time, per run (all phases); --param top=N
-- by = block: the block each kernel ran in (`category`); by = name: the kind of work its name says (`name_category`)
-- param: top = 15
-- param: by = block {block, name}
WITH agg AS (
  SELECT run, name, category, count(*) AS calls, sum(dur_ns) AS total_ns
  FROM (SELECT run, name, dur_ns, CASE ${by} WHEN 'name' THEN name_category ELSE category END AS category FROM kernels)
  GROUP BY run, name, category
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY run ORDER BY total_ns DESC, name, category) AS rank,
         100.0 * total_ns / sum(total_ns) OVER (PARTITION BY run) AS share
  FROM agg
)
SELECT run, rank, name, category, calls,
       round(total_ns / 1e6, 3) AS total_ms,
       round(total_ns / calls / 1e3, 2) AS avg_us,
       round(share, 2) AS pct
FROM ranked
WHERE rank <= ${top}
ORDER BY run, rank
