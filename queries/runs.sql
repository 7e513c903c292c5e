-- Ingested runs: source, nsys and schema version, GPUs, kernel and step counts, rules hash
SELECT run, source_files, source_format, nsys_version, schema_version, gpu, gpus, host_gpus,
       cuda_graph_trace, kernels, labelled_kernels, steps, ranks, rules_hash, model, mconf, deploy, backend, engine
FROM runs
ORDER BY run
