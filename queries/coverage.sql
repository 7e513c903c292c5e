-- Where each run's categories came from: GPU-time share by category_source (module, name, none) and the share left 'other', over all kernels and inside labelled steps
-- module: a conf/modules.yaml rule placed the kernel (the launching module, or the module open when a CUDA-graph
-- node was captured; a communication or refine: true name inside it still counts as module);
-- name: no module rule applied, conf/kernels.yaml decided; none: neither (the kernel is 'other'). graph_by_name_pct: CUDA-graph kernels
-- categorised by name, a share of the scope's GPU time (no node-creation events, or captured outside any module).
WITH k AS (
  SELECT run, 'all' AS scope, category, category_source, module_ns, launch, kernels, gpu_ns AS dur_ns FROM shape_categories
  UNION ALL
  SELECT run, 'steps' AS scope, category, category_source, module_ns, launch, kernels, gpu_ns AS dur_ns FROM shape_categories WHERE in_steps
)
SELECT run, scope,
       sum(kernels) AS kernels,
       round(sum(dur_ns) / 1e6, 3) AS gpu_ms,
       round(100.0 * sum(CASE WHEN category_source = 'module' THEN dur_ns ELSE 0 END) / sum(dur_ns), 2) AS module_pct,
       round(100.0 * sum(CASE WHEN category_source = 'name' THEN dur_ns ELSE 0 END) / sum(dur_ns), 2) AS name_pct,
       round(100.0 * sum(CASE WHEN category_source = 'none' THEN dur_ns ELSE 0 END) / sum(dur_ns), 2) AS none_pct,
       round(100.0 * sum(CASE WHEN category = 'other' THEN dur_ns ELSE 0 END) / sum(dur_ns), 2) AS other_pct,
       round(100.0 * sum(module_ns) / sum(dur_ns), 2) AS in_module_pct,
       round(100.0 * sum(CASE WHEN launch = 'graph' AND category_source <> 'module' THEN dur_ns ELSE 0 END) / sum(dur_ns), 2) AS graph_by_name_pct
FROM k
GROUP BY run, scope
ORDER BY run, scope
