-- report: the kernels of the steps a timeline draws (steps: a list of step ids)
-- param: run
-- param: steps
SELECT step, device, stream, start_ns, end_ns, name, category
FROM kernels
WHERE run = ${run} AND step IN (${steps})
ORDER BY step, device, stream, start_ns, end_ns
