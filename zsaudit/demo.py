"""`zsaudit demo`: a synthetic night (zsaudit.synth), a config for it, and the whole nightly job
(zsaudit.pipeline.run) on it, in a folder of its own."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .errors import BadUsage
from .output import claim_dir
from .pipeline import RunSummary, run
from .progress import QUIET, Progress
from .report.context import plural
from .store import Store
from .timeutil import iso_z, parse_time

DEMO_MARKER = ".zsaudit-demo"


@dataclass
class DemoResult:
    out_dir: Path
    input_dir: Path
    config_path: Path
    summary: RunSummary
    planted: dict = field(default_factory=dict)      # truth.json: kind -> planted count
    seconds: float = 0.0

    def lines(self) -> list[str]:
        s, f = self.summary, self.summary.findings
        z, a = s.ingest.get("zscaler"), s.ingest.get("airflow")
        n_open, n_accepted = (f.open, f.accepted) if f else (0, 0)
        out = [
            f"zsaudit demo: a synthetic night in {self.input_dir}/ "
            f"({z.rows_loaded if z else 0} Zscaler records, {a.rows_loaded if a else 0} Airflow rows), "
            f"period {iso_z(s.since, 'seconds')} .. {iso_z(s.until, 'seconds')}",
            f"found {n_open} open {plural(n_open, 'finding')}, {n_accepted} accepted "
            f"{plural(n_accepted, 'risk')} (approved {plural(n_accepted, 'exception')}):",
        ]
        kinds = sorted(set((f.by_kind if f else {})) | set(self.planted))
        for kind in kinds:
            found = (f.by_kind if f else {}).get(kind, 0)
            planted = self.planted.get(kind)
            out.append(f"  {kind:<22} {found:>4}" + (f"   (planted: {planted})" if planted is not None else ""))
        if s.pack:
            out.append(f"HTML: {s.pack.index_html.resolve()}")
            if s.pack.pdf:
                out.append(f"PDF:  {s.pack.pdf.resolve()}")
            if s.pack.problems:
                out.append(f"pack verification: {len(s.pack.problems)} problems: {s.pack.problems[0]}")
        out.append(f"next: zsaudit findings --db {s.db}   |   zsaudit run --config {self.config_path}")
        out.append(f"done in {self.seconds:.1f}s")
        return out


def demo(out_dir: str | os.PathLike = "zsaudit-demo", *, requests: int = 2000, seed: int = 1, pdf: bool = True,
         progress: Progress = QUIET) -> DemoResult:
    """Synthesize a night (zsaudit.synth), write a config for it, and run the whole pipeline."""
    from .synth import synthesize

    started = time.perf_counter()
    out = Path(out_dir)
    _prepare_demo_dir(out)
    input_dir = out / "input"
    progress.log(f"demo: synthesizing a night of logs into {input_dir}")
    synth = synthesize(input_dir, requests=requests, seed=seed)
    config_path = out / "zsaudit.toml"
    config_path.write_text(_demo_config(pdf), encoding="utf-8")
    from .config import load_config

    config = load_config(config_path)
    since, until = synth_night(synth, input_dir)
    summary = run(config, since=since, until=until, progress=progress)
    planted = _planted(input_dir / "truth.json")
    return DemoResult(out_dir=out, input_dir=input_dir, config_path=config_path, summary=summary,
                      planted=planted, seconds=time.perf_counter() - started)


def _prepare_demo_dir(out: Path) -> None:
    """An empty or new directory, or an earlier demo's (recognised by its marker): never a user's."""
    claim_dir(out, marker=DEMO_MARKER, what="--out", purpose="`zsaudit demo` writes its night here "
              "and replaces it on the next demo run")
    for child in out.iterdir():
        if child.name != DEMO_MARKER:
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _demo_config(pdf: bool) -> str:
    return (
        "# Written by `zsaudit demo` for its synthetic night. `zsaudit init` writes a real one.\n"
        'db = "zsaudit.duckdb"\n'
        'identity_map = "input/identity.toml"\n'
        "[zscaler]\n"
        'paths = ["input/zscaler"]\n'
        "[airflow]\n"
        'paths = ["input/airflow/logs", "input/airflow/task_instances.json"]\n'
        "[pack]\n"
        'out_dir = "packs"\n'
        f"pdf = {'true' if pdf else 'false'}\n"
        "[run]\n"
        'fail_on = "none"\n'
        + "".join(f'[controls."{cid}"]\nowner = "{owner}"\nowner_role = "{role}"\n'
                  'reviewer = "Sam Example"\nreviewer_role = "Head of Security Compliance"\n'
                  for cid, owner, role in _DEMO_OWNERS)
    )


# the demo's control owners (fictional), so its pack shows the review blocks filled in
_DEMO_OWNERS = (("CC6.1", "Alex Example", "Data Platform Lead"), ("CC6.6", "Robin Example", "Network Engineering Lead"),
                ("CC6.7", "Robin Example", "Network Engineering Lead"), ("CC7.2", "Kim Example", "SRE Lead"),
                ("CC7.3", "Kim Example", "SRE Lead"))


def synth_night(synth, input_dir: Path) -> tuple[datetime, datetime]:
    """The night zsaudit.synth wrote: from its result when it says, else whole UTC days around
    its Zscaler records (read through a scratch store)."""
    for a, b in (("since", "until"), ("period_start", "period_end"), ("start", "end")):
        since, until = getattr(synth, a, None), getattr(synth, b, None)
        if since is not None and until is not None:
            return parse_time(since), parse_time(until)
    period = getattr(synth, "period", None)
    if period:
        return parse_time(period[0]), parse_time(period[1])
    with tempfile.TemporaryDirectory(prefix="zsaudit-night-") as tmp:
        with Store(Path(tmp) / "span.duckdb") as store:
            from .ingest import zscaler

            zscaler.ingest_paths(store, [input_dir / "zscaler"])
            row = store.run("pipeline/data_span").fetchone()
    if not row or row[0] is None:
        raise BadUsage(f"{input_dir}: the synthetic night holds no timestamped records")
    return row[0], row[1]


def _planted(truth_path: Path) -> dict:
    """Open findings planted per kind, from synth's truth.json ('findings': [{kind, status}, ...])."""
    if not truth_path.is_file():
        return {}
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    items = (truth.get("findings") or truth.get("planted") or []) if isinstance(truth, dict) else truth
    counts: dict = {}
    if isinstance(items, dict):
        return {k: (len(v) if isinstance(v, list) else v) for k, v in items.items() if isinstance(v, (int, list))}
    for item in items:
        if isinstance(item, dict) and item.get("kind") and item.get("status", "open") == "open":
            counts[item["kind"]] = counts.get(item["kind"], 0) + 1
    return counts
