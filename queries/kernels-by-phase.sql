-- GPU kernel time and share per phase × category (kernels outside any labelled step are phase '(unlabelled)')
-- by = block: the block each kernel ran in (`category`); by = name: the kind of work its name says (`name_category`)
-- param: by = block {block, name}
WITH k AS (
  SELECT run, coalesce(phase, '(unlabelled)') AS phase, CASE ${by} WHEN 'name' THEN name_category ELSE category END AS category, kernels, gpu_ns AS dur_ns
  FROM shape_categories
)
SELECT run, phase, category,
       sum(kernels) AS kernels,
       round(sum(dur_ns) / 1e6, 3) AS gpu_ms,
       round(100.0 * sum(dur_ns) / sum(sum(dur_ns)) OVER (PARTITION BY run, phase), 2) AS pct_of_phase
FROM k
GROUP BY run, phase, category
ORDER BY run, phase, sum(dur_ns) DESC, category
