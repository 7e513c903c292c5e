-- report: GPU ns of each category in each shape, with the shape's labelled step count
-- (a step is one process's forward, as in categories-by-shape.sql)
-- param: run
-- param: by = block {block, name}
WITH k AS (
  SELECT phase, bsz, seq, CASE ${by} WHEN 'name' THEN name_category ELSE category END AS category, gpu_ns AS dur_ns, step FROM step_categories
  WHERE run = ${run} AND step IS NOT NULL
),
n AS (SELECT phase, bsz, seq, count(DISTINCT step) AS steps FROM k GROUP BY phase, bsz, seq)
SELECT k.phase, k.bsz, k.seq, n.steps, k.category, sum(k.dur_ns) AS ns
FROM k JOIN n ON k.phase = n.phase AND k.bsz = n.bsz AND k.seq IS NOT DISTINCT FROM n.seq
GROUP BY k.phase, k.bsz, k.seq, n.steps, k.category
ORDER BY k.phase DESC, k.bsz, k.seq, k.category
