-- diff: the facts of the two runs (what makes them comparable)
-- param: base
-- param: new
SELECT * FROM runs WHERE run IN (${base}, ${new}) ORDER BY run
