"""The Spark application of a run: the master from [engine], executors running this Python."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from ..errors import BadUsage


@contextmanager
def session(master: str, *, app: str = "zsaudit") -> Iterator[object]:
    """The SparkContext of an application on `master` (spark://host:7077, local[N]), stopped on exit.

    Executors run the driver's Python (PYSPARK_PYTHON), so zsaudit must be installed where they
    run; on one machine (tests, bench/scale.py) it is the same virtualenv.

    A SparkContext, not a SparkSession: the engine's jobs are plain tasks over lists of files
    (no DataFrame, no Spark SQL), and a SparkSession's start loads the SQL extensions through
    Scala reflection, ~7 CPU-s of the driver's JVM per run for nothing.

    An application already running in this process (a notebook's, a service's, one `session()`
    around several runs) is used as it is and left running: its executors, and the Python
    workers they keep between tasks, are warm (a new application on a standalone cluster starts
    a JVM per executor first)."""
    try:
        from pyspark import SparkConf, SparkContext
    except ImportError:
        raise BadUsage("--engine spark needs PySpark and Java 17: pip install 'zsaudit[spark]'") from None
    if SparkContext._active_spark_context is not None:
        yield SparkContext.getOrCreate()
        return
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = (SparkConf().setMaster(master).setAppName(app)
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            # a task whose executor died runs again elsewhere; its files are put in place (renamed, or
            # uploaded to their final keys) under names that depend only on its input (zsaudit/lake.py)
            .set("spark.task.maxFailures", "4")
            .set("spark.executorEnv.PYSPARK_PYTHON", os.environ["PYSPARK_PYTHON"]))
    if master.startswith("spark://127.0.0.1") or master.startswith("local"):
        conf = conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
    sc = SparkContext.getOrCreate(conf)
    sc.setLogLevel("ERROR")
    try:
        yield sc
    finally:
        sc.stop()


def parallelism(sc) -> int:
    """Cores the application holds (at least 1)."""
    return max(1, int(sc.defaultParallelism))
