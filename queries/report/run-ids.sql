-- the runs in the dataset (the report's default set; the diff's list when a run is missing)
SELECT DISTINCT run FROM runs ORDER BY run
