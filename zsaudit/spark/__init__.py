"""`zsaudit run --engine spark`: ingest and analysis as Spark jobs over a Parquet lake.

session.py starts the SparkContext; ingest.py spreads input files over the executors, each runs
zsaudit's own parsers into a scratch DuckDB file and writes its rows to the lake (zsaudit/lake.py);
analyze.py runs queries/correlate/ per partition key inside Spark tasks (DuckDB in-process), then
the finding rules once over the result, in the store the lake was loaded into. docs/scale.md.
"""
