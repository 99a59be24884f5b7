"""zsaudit: prove that Airflow pipelines reach the outside world only through Zscaler,
with approved identities, and render the SOC 2 evidence for it."""

__version__ = "0.1.0"
DEFAULT_DB = "zsaudit.duckdb"   # the store when neither --db, ZSAUDIT_DB nor a config names one
