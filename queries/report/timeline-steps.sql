-- report: every labelled step of a run, one row per (step, process): its CPU start and GPU span
-- param: run
SELECT step, pid, phase, bsz, seq, iter, min(cpu_start_ns) AS cpu_start_ns,
       max(gpu_end_ns) - min(gpu_start_ns) AS span_ns
FROM steps
WHERE run = ${run} AND device IS NOT NULL
GROUP BY step, pid, phase, bsz, seq, iter
ORDER BY step, pid
