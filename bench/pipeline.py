"""Benchmark: `zsaudit demo` end to end, and the nightly re-run that finds nothing new.

    python bench/pipeline.py                       # the demo defaults: 2000 requests, with the PDF
    python bench/pipeline.py --requests 2000,20000

For each size: synthesize + ingest + analyze + render (what `make demo` does), then `zsaudit run`
on the same config again (every file already in the ledger, analysis current: the idle night).
Prints wall seconds and the peak RSS of this process. Target (issue 7): the demo under 60 s.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zsaudit import pipeline  # noqa: E402
from zsaudit.demo import demo as run_demo  # noqa: E402
from zsaudit.config import load_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", default="2000", help="comma-separated synthetic request counts")
    ap.add_argument("--no-pdf", action="store_true")
    args = ap.parse_args()
    print(f"{'requests':>9} {'demo s':>8} {'re-run s':>9} {'open findings':>14} {'peak RSS MB':>12}")
    for n in (int(x) for x in args.requests.split(",")):
        work = Path(tempfile.mkdtemp(prefix="zsaudit-bench-pipeline-"))
        try:
            t0 = time.perf_counter()
            demo = run_demo(work / "demo", requests=n, pdf=not args.no_pdf)
            t_demo = time.perf_counter() - t0
            s = demo.summary
            t0 = time.perf_counter()
            again = pipeline.run(load_config(demo.config_path), since=s.since, until=s.until)
            t_rerun = time.perf_counter() - t0
            assert again.findings.analyzed is False and again.pack.problems == []
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{n:>9} {t_demo:>8.1f} {t_rerun:>9.1f} {s.findings.open:>14} {rss:>12.0f}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
