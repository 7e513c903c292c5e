-- Harness latency (CUDA events around the forward) next to the trace's CPU span and GPU busy time, per shape
-- empty: no run here has the latency table; `trace capture` writes it (an ingested trace alone has no harness latency).
WITH s AS (
  SELECT run, phase, bsz, seq,
         count(DISTINCT step) AS steps,
         avg(cpu_dur_ns) AS cpu_ns,
         avg(gpu_span_ns) AS span_ns,
         avg(gpu_busy_ns) AS busy_ns
  FROM steps
  GROUP BY run, phase, bsz, seq
),
l AS (
  SELECT run, phase, bsz, seq, avg(mean_ms) AS harness_ms, sum(iters) AS harness_iters
  FROM latency
  GROUP BY run, phase, bsz, seq
)
SELECT s.run, s.phase, s.bsz, s.seq, s.steps,
       round(l.harness_ms, 4) AS harness_mean_ms,
       l.harness_iters,
       round(s.cpu_ns / 1e6, 4) AS trace_cpu_ms,
       round(s.span_ns / 1e6, 4) AS trace_gpu_span_ms,
       round(s.busy_ns / 1e6, 4) AS trace_gpu_busy_ms
FROM s LEFT JOIN l ON s.run = l.run AND s.phase = l.phase AND s.bsz = l.bsz AND s.seq = l.seq
ORDER BY s.run, s.phase DESC, s.bsz, s.seq
