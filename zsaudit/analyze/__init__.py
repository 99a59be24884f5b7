"""The analysis: from correlated requests to findings.

rules.py       finding kinds, severities, queries/findings/rules.toml, ZPA status codes (defined once)
correlate.py   request -> task attempt (queries/correlate/, numbered in execution order)
analysis.py    analyze(): one period's correlation, detections, not-evaluable checks, exceptions and
               its analysis_runs row, in one transaction
listing.py     `zsaudit findings`: table, JSON, CSV

Nothing is imported here, so that identity_map and config can take KINDS and SEVERITIES from
rules.py without loading the whole analysis.
"""
