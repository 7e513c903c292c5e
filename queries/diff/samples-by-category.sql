-- diff: GPU ns of each category in each labelled step of the two runs
-- param: base
-- param: new
SELECT run, phase, bsz, seq, step, iter, category AS key, sum(gpu_ns) AS ns
FROM step_categories
WHERE run IN (${base}, ${new}) AND step IS NOT NULL
GROUP BY run, phase, bsz, seq, step, iter, category
ORDER BY run, step, key
