"""The SparkSession of a run: the master from [engine], executors running this Python."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from ..errors import BadUsage


@contextmanager
def session(master: str, *, app: str = "zsaudit") -> Iterator[object]:
    """A SparkSession on `master` (spark://host:7077, local[N]), stopped on exit.

    Executors run the driver's Python (PYSPARK_PYTHON), so zsaudit must be installed where they
    run; on one machine (tests, bench/scale.py) it is the same virtualenv."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BadUsage("--engine spark needs PySpark and Java 17: pip install 'zsaudit[spark]'") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(master).appName(app)
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               # a task whose executor died runs again elsewhere; its files are put in place (renamed, or
               # uploaded to their final keys) under names that depend only on its input (zsaudit/lake.py)
               .config("spark.task.maxFailures", "4")
               .config("spark.executorEnv.PYSPARK_PYTHON", os.environ["PYSPARK_PYTHON"]))
    if master.startswith("spark://127.0.0.1") or master.startswith("local"):
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def parallelism(spark) -> int:
    """Cores the application holds (at least 1)."""
    return max(1, int(spark.sparkContext.defaultParallelism))
