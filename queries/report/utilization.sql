-- report: MFU and MBU of each shape of one run (the shipped mfu query, not a copy of it)
-- param: run
SELECT * FROM (${query:mfu}) AS m WHERE run = ${run} ORDER BY phase DESC, bsz, seq
