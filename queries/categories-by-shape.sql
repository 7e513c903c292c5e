-- Per phase, bsz and seq: mean GPU ms per step (a step runs on one GPU per rank) by category group, and each group's share
-- Groups: pointwise = norm+rotary+activation+quantization; memory = memory+kv_cache; elementwise = elementwise+compiled+sampling
-- by = block: the block each kernel ran in (`category`); by = name: the kind of work its name says (`name_category`)
-- param: by = block {block, name}
WITH k AS (
  SELECT run, phase, bsz, seq, CASE ${by} WHEN 'name' THEN name_category ELSE category END AS category, gpu_ns AS dur_ns, steps
  FROM shape_categories WHERE in_steps
),
shape AS (
  SELECT run, phase, bsz, seq,
         max(steps) AS steps,
         sum(dur_ns) AS total_ns,
         sum(CASE WHEN category = 'attention' THEN dur_ns ELSE 0 END) AS attention_ns,
         sum(CASE WHEN category = 'moe' THEN dur_ns ELSE 0 END) AS moe_ns,
         sum(CASE WHEN category = 'gemm' THEN dur_ns ELSE 0 END) AS gemm_ns,
         sum(CASE WHEN category = 'communication' THEN dur_ns ELSE 0 END) AS communication_ns,
         sum(CASE WHEN category IN ('norm', 'rotary', 'activation', 'quantization') THEN dur_ns ELSE 0 END) AS pointwise_ns,
         sum(CASE WHEN category IN ('memory', 'kv_cache') THEN dur_ns ELSE 0 END) AS memory_ns,
         sum(CASE WHEN category IN ('elementwise', 'compiled', 'sampling') THEN dur_ns ELSE 0 END) AS elementwise_ns,
         sum(CASE WHEN category = 'other' THEN dur_ns ELSE 0 END) AS other_ns
  FROM k
  GROUP BY run, phase, bsz, seq
)
SELECT run, phase, bsz, seq, steps,
       round(total_ns / steps / 1e6, 4) AS total_ms,
       round(attention_ns / steps / 1e6, 4) AS attention_ms,
       round(moe_ns / steps / 1e6, 4) AS moe_ms,
       round(gemm_ns / steps / 1e6, 4) AS gemm_ms,
       round(communication_ns / steps / 1e6, 4) AS communication_ms,
       round(pointwise_ns / steps / 1e6, 4) AS pointwise_ms,
       round(memory_ns / steps / 1e6, 4) AS memory_ms,
       round(elementwise_ns / steps / 1e6, 4) AS elementwise_ms,
       round(other_ns / steps / 1e6, 4) AS other_ms,
       round(100.0 * attention_ns / total_ns, 1) AS attention_pct,
       round(100.0 * moe_ns / total_ns, 1) AS moe_pct,
       round(100.0 * gemm_ns / total_ns, 1) AS gemm_pct,
       round(100.0 * communication_ns / total_ns, 1) AS communication_pct,
       round(100.0 * pointwise_ns / total_ns, 1) AS pointwise_pct,
       round(100.0 * memory_ns / total_ns, 1) AS memory_pct,
       round(100.0 * elementwise_ns / total_ns, 1) AS elementwise_pct,
       round(100.0 * other_ns / total_ns, 1) AS other_pct
FROM shape
ORDER BY run, phase DESC, bsz, seq
