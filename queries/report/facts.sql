-- report: the run's facts (the page shows the ones it knows, in its own order)
-- param: run
SELECT * FROM runs WHERE run = ${run} ORDER BY run
