"""Ingestion: Zscaler feeds (zscaler.py) and Airflow logs and metadata (airflow.py) into the store."""
