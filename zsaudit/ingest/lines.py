"""Reading a file as batches of whole lines, bounded by bytes whatever the input (shared by the
Zscaler and Airflow task-log ingesters)."""

from __future__ import annotations

import zlib
from typing import IO, Iterator

from ..errors import BadInput
from . import limits
from .limits import LongLine


def iter_chunks(fh: IO[bytes], label: str, batch_bytes: int, on_bytes=None,
                max_line_bytes: int | None = None) -> Iterator[tuple[int, bytes | memoryview | LongLine]]:
    """(number of the first line, raw bytes of whole lines) in batches cut at newlines; line
    numbers are 1-based. Lines are counted on the bytes (a newline is never part of a multi-byte
    UTF-8 sequence), so batches can be decoded and split elsewhere, in parallel.

    A line that outgrows `max_line_bytes` with no newline in the buffer comes alone, as a
    LongLine (its first bytes, length, sha256), and is read past without being held: memory
    stays within about two batches whatever the input (newline-free, gzip bombs)."""
    line_no = 1
    carry = b""
    max_line = max_line_bytes or limits.MAX_LINE_BYTES
    raw = getattr(fh, "fileobj", fh)              # the file under a gzip stream
    position = 0
    long_line: LongLine | None = None             # a line being read past
    while True:
        # each batch reads into its own buffer, which the batch's lines then use in place
        buf = bytearray(len(carry) + batch_bytes)
        buf[:len(carry)] = carry
        view = memoryview(buf)
        try:
            n = fh.readinto(view[len(carry):])
        except (OSError, EOFError, zlib.error) as exc:
            raise BadInput(f"{label}: cannot read after line {line_no - 1} ({exc}); expected a plain "
                           "or gzip-compressed text file") from None
        if on_bytes is not None:
            now = raw.tell()
            on_bytes(now - position)
            position = now
        if not n:
            break
        end = len(carry) + n
        if long_line is not None:
            cut = buf.find(b"\n", 0, end)
            long_line.add(view[:end if cut < 0 else cut])
            if cut < 0:
                carry = b""
                continue
            yield line_no, long_line
            line_no, long_line = line_no + 1, None
            carry = bytes(view[cut + 1:end])
            continue
        cut = buf.rfind(b"\n", 0, end)
        if cut < 0:
            if end > max_line:
                long_line, carry = LongLine(view[:end]), b""
            else:
                carry = bytes(view[:end])
            continue
        carry = bytes(view[cut + 1:end])
        yield line_no, view[:cut]
        line_no += buf.count(b"\n", 0, cut) + 1
    if long_line is not None:
        yield line_no, long_line
        return
    cut = carry.rfind(b"\n")         # whole lines after a long one, read with it
    if cut >= 0:
        yield line_no, memoryview(carry)[:cut]
        line_no += carry.count(b"\n", 0, cut) + 1
        carry = carry[cut + 1:]
    if carry:
        yield line_no, carry
