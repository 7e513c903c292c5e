-- Every labelled step: CPU span, GPU span, GPU busy and idle time, kernel count, per device
SELECT run, phase, bsz, seq, iter, pid, device,
       round(cpu_dur_ns / 1e6, 4) AS cpu_ms,
       round(gpu_span_ns / 1e6, 4) AS gpu_span_ms,
       round(gpu_busy_ns / 1e6, 4) AS gpu_busy_ms,
       round(gpu_idle_ns / 1e6, 4) AS gpu_idle_ms,
       kernels, graph_kernels, memops
FROM steps
ORDER BY run, phase DESC, bsz, seq, iter, pid, device
