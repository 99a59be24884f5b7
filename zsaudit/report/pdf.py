"""audit-pack.pdf through WeasyPrint: the pack's HTML with the print stylesheet (cover, table of
contents with page numbers, running footer). Nothing is fetched: the HTML is self-contained and
any URL WeasyPrint is asked for is refused, so hostile content cannot reach the network.
"""

from __future__ import annotations

import logging
from pathlib import Path


def _refuse(url: str, *args, **kwargs):
    raise ValueError(f"the audit pack fetches nothing (asked for {url[:80]!r})")


def write(html: str, path: Path) -> None:
    import weasyprint  # imported here: `--no-pdf` runs never pay for it

    # WeasyPrint logs every refused fetch and unsupported CSS property as a warning; the pack
    # uses neither on purpose, so keep its logger quiet unless something is really wrong.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    weasyprint.HTML(string=html, url_fetcher=_refuse, base_url=None).write_pdf(str(path))
