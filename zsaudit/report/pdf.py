"""audit-pack.pdf through WeasyPrint: the pack's HTML with the print stylesheet (cover, table of
contents with page numbers, running footer). Nothing is fetched: the HTML is self-contained and
any URL WeasyPrint is asked for is refused, so hostile content cannot reach the network.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path


def _refuse(url: str, *args, **kwargs):
    raise ValueError(f"the audit pack fetches nothing (asked for {url[:80]!r})")


def write(html: str, path: Path, *, created: datetime | None = None,
          attachments: list[tuple[Path, str]] = ()) -> None:
    """Write the PDF; `created` (the pack's generation time) also stamps the embedded font
    subsets, which fontTools would otherwise date "now": same input, same bytes.
    `attachments` (file, description) are embedded as PDF file attachments, read here (no fetch)."""
    import weasyprint  # imported here: `--no-pdf` runs never pay for it

    # WeasyPrint logs every refused fetch and unsupported CSS property as a warning; the pack
    # uses neither on purpose, so keep its logger quiet unless something is really wrong.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    if created is not None:
        os.environ["SOURCE_DATE_EPOCH"] = str(int(created.timestamp()))
    try:
        embedded = [
            weasyprint.Attachment(string=p.read_bytes(), name=p.name, description=description,
                                  created=created, modified=created, url_fetcher=_refuse)
            for p, description in attachments
        ]
        weasyprint.HTML(string=html, url_fetcher=_refuse, base_url=None).write_pdf(str(path), attachments=embedded)
    finally:
        if saved is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
