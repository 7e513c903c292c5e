-- MFU and memory-bandwidth utilisation per phase × shape: model FLOPs / (time × GPUs × peak per GPU), impossible values flagged
-- Time is the harness latency when captured (time_source = harness), else the mean GPU span of the
-- traced steps. Needs model_flops: ingest with --model M --mconf C (configs in model_conf/).
-- empty: no run here has model_flops; ingest (or capture) with --model M --mconf C (`trace model params --model M` checks a config), or the runs have no phase-labelled steps.
-- flag: empty when both figures are possible; above 100 % the model config counts more FLOPs or bytes than
-- the GPUs could process in the measured time, so it does not describe the traced model (or the time is wrong).
WITH span AS (
  SELECT run, phase, bsz, seq, avg(gpu_span_ns) AS span_ns FROM steps GROUP BY run, phase, bsz, seq
),
harness AS (
  SELECT run, phase, bsz, seq, avg(mean_ms) AS ms FROM latency GROUP BY run, phase, bsz, seq
),
timed AS (
  SELECT m.run, m.model, m.mconf, m.phase, m.bsz, m.seq, m.flops, m.weight_bytes, m.kv_bytes, m.dtype,
         m.gpu, m.peak_flops, m.peak_bytes_per_s, r.gpus,
         coalesce(h.ms, s.span_ns / 1e6) AS ms,
         CASE WHEN h.ms IS NULL THEN 'trace_gpu_span' ELSE 'harness' END AS time_source
  FROM model_flops m
  JOIN runs r ON r.run = m.run
  LEFT JOIN span s ON s.run = m.run AND s.phase = m.phase AND s.bsz = m.bsz AND s.seq = m.seq
  LEFT JOIN harness h ON h.run = m.run AND h.phase = m.phase AND h.bsz = m.bsz AND h.seq = m.seq
),
figures AS (
  SELECT run, model, mconf, phase, bsz, seq, gpu, gpus, dtype, time_source,
         round(ms, 4) AS ms,
         round(flops / 1e12, 4) AS tflop,
         round(flops / (ms / 1e3) / gpus / 1e12, 2) AS tflops_per_gpu,
         round(100.0 * flops / ((ms / 1e3) * gpus * peak_flops), 3) AS mfu_pct,
         round((weight_bytes + kv_bytes) / 1e9, 4) AS gbytes_read,
         round(100.0 * (weight_bytes + kv_bytes) / ((ms / 1e3) * gpus * peak_bytes_per_s), 3) AS mbu_pct
  FROM timed
)
SELECT *,
       CASE
         WHEN mfu_pct > 100 AND mbu_pct > 100 THEN 'IMPOSSIBLE MFU and MBU > 100%: ' || mconf || ' config of ' || model || ' does not match the traced model (or the time is wrong)'
         WHEN mfu_pct > 100 THEN 'IMPOSSIBLE MFU > 100%: ' || mconf || ' config of ' || model || ' counts more FLOPs than the traced model ran (or the time is wrong)'
         WHEN mbu_pct > 100 THEN 'IMPOSSIBLE MBU > 100%: ' || mconf || ' config of ' || model || ' reads more weight/KV bytes than the traced model (or the time is wrong)'
         ELSE ''
       END AS flag
FROM figures
ORDER BY run, phase DESC, bsz, seq
