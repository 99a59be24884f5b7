"""Reading the small TOML files a user points zsaudit at (zsaudit.toml, the identity map).

Such a path can be anything: a FIFO (reading blocks forever), /dev/zero (reads until memory
runs out), a directory, a 2 GB log given by mistake, TOML nested thousands of levels deep
(the parser recurses). Each of these is a plain BadUsage/BadInput naming the file (exit 2).
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from .errors import ZsauditError

MAX_BYTES = 4 * 1024 * 1024   # a config or identity map is a few KB; thousands of accounts fit in 4 MiB


def read_text(path: str | os.PathLike, what: str, error: type[ZsauditError], *,
              max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most max_bytes; `error` naming `what` otherwise."""
    p = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not hang; the fstat below refuses it
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{p}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{p}: is a directory; expected the {what} (a TOML file)") from None
    except OSError as exc:
        raise error(f"{p}: cannot read the {what} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{p}: is a directory; expected the {what} (a TOML file)")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{p}: not a regular file (a device, FIFO or socket); expected the {what} (a TOML file)")
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise error(f"{p}: larger than {max_bytes // (1024 * 1024)} MiB; expected the {what} (a small TOML file)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: the {what} is not UTF-8 text (byte {exc.start})") from None


def parse(text: str, source: str, error: type[ZsauditError]) -> dict:
    """TOML text -> dict; a syntax error or nesting too deep for the parser is `error`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:
        raise error(f"{source}: not usable TOML (arrays or tables nested too deeply)") from None
