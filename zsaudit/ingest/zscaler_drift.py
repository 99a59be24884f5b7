"""Field drift in a Zscaler file: lines whose fields differ from the template the file declared.

The batch SQL flags each such line (`drift`); here the flagged lines of each batch (a sample of
at most 50) are counted into what the ledger records (ingest_ledger.field_drift): how many lines
drifted, and for CSV / TSV the field counts found, for key=value families the keys missing from
and unexpected beside the declared ones.
"""

from __future__ import annotations

import json

import pyarrow as pa

from .zscaler_sniff import Plan, _kv_pairs, _space_pairs, cef_extension, leef_attributes

SAMPLE_LINES = 50        # of each batch's drifted lines, the ones whose keys are looked at


class Drift:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.lines = 0
        self.keys: dict[str, int] = {}          # '+key' unexpected, '-key' missing: lines
        self.counts: dict[int, int] = {}        # CSV / TSV: fields found: lines

    def note(self, drifted: pa.Table) -> None:
        """The staged rows (text, nfields) of a batch's drifted lines; the first SAMPLE_LINES are read."""
        self.lines += drifted.num_rows
        sample = drifted.slice(0, SAMPLE_LINES)
        if self.plan.fmt in ("csv", "tsv"):
            for m in sample["nfields"].to_pylist():
                self.counts[m] = self.counts.get(m, 0) + 1
            return
        declared = set(self.plan.declared)
        for text in sample["text"].to_pylist():
            for k in set(self._keys(text)) ^ declared:
                tag = ("+" if k not in declared else "-") + k
                self.keys[tag] = self.keys.get(tag, 0) + 1

    def _keys(self, text: str) -> list[str]:
        if self.plan.fmt == "kv":
            return [k for k, _ in _kv_pairs(text, "\t")]
        if self.plan.fmt == "cef":
            parsed = cef_extension(text)
            return [k for k, _ in _space_pairs(parsed[1], {k.lower() for k in self.plan.keys})] if parsed else []
        parsed = leef_attributes(text)
        return [k for k, _ in _kv_pairs(parsed[1], parsed[2])] if parsed else []

    def summary(self) -> dict:
        """What the ledger's field_drift holds."""
        out: dict = {"lines": self.lines, "declared_fields": len(self.plan.declared)}
        if self.counts:
            out["found_field_counts"] = {str(k): v for k, v in sorted(self.counts.items())}
        if self.keys:
            out["missing"] = sorted(k[1:] for k in self.keys if k.startswith("-"))
            out["unexpected"] = sorted(k[1:] for k in self.keys if k.startswith("+"))
        return out


def short(drift: dict) -> str:
    """The drift summary in a warning line (at most 200 characters)."""
    text = json.dumps(drift, sort_keys=True)
    return text if len(text) < 200 else text[:197] + "..."
