"""Reading a file as batches of whole lines, bounded by bytes whatever the input (shared by the
Zscaler and Airflow task-log ingesters).

    open_input(path)     the file, gunzipped when it is gzip (Gunzip: a cut-off or corrupt stream
                         ends the data where it breaks, and says why in .broken)
    iter_chunks(...)     batches of whole lines; a line over the cap, and the broken tail of a
                         gzip stream, come alone as a LongLine (its reason set for the tail)
    iter_json_document   a JSON array or concatenated (pretty-printed) JSON values, one element
                         at a time, as lines of compact JSON, in bounded memory
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import zlib
from pathlib import Path
from typing import IO, Iterator

from ..errors import BadInput
from . import limits
from .limits import LongLine


GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 1 << 16


class Gunzip:
    """A gzip file (one or more members) read as its decompressed bytes, at most the caller's
    buffer at a time (a gzip bomb never inflates more than that). Where the stream is cut off
    or corrupt the data ends, and `broken` says why: what decoded before it is kept."""

    def __init__(self, fileobj):
        self.fileobj = fileobj
        self.broken: str | None = None
        self._d = zlib.decompressobj(31)
        self._pending = b""
        self._in_member = False
        self._done = False
        self._careful = False

    def readinto(self, view) -> int:
        want = len(view)
        while True:
            if self._pending:
                self._in_member = True
                # after an error, the block again in small pieces: all that decodes before it is kept
                step = 512 if self._careful else len(self._pending)
                feed, rest = self._pending[:step], self._pending[step:]
                saved = None if self._careful else self._d.copy()
                try:
                    out = self._d.decompress(feed, want)
                except zlib.error as exc:
                    if saved is not None:
                        self._d, self._careful = saved, True
                        continue
                    self.broken = f"corrupt gzip data ({exc})"
                    self._pending, self._done = b"", True
                    return 0
                self._pending = self._d.unconsumed_tail + rest
                if self._d.eof:                 # a member ended; another may follow
                    self._pending = self._d.unused_data + self._pending
                    self._d = zlib.decompressobj(31)
                    self._in_member = False
                    if self._pending.strip(b"\x00") == b"":     # trailing zero padding
                        self._pending = b""
                if out:
                    view[:len(out)] = out
                    return len(out)
                continue
            if self._done:
                return 0
            block = self.fileobj.read(_BLOCK)
            if not block:
                self._done = True
                if self._in_member:
                    self.broken = "the gzip stream ends before its end marker (the file was cut off)"
                return 0
            self._pending = block

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            buf = bytearray(_BLOCK if n < 0 else min(_BLOCK * 16, n - len(out)))
            got = self.readinto(memoryview(buf))
            if not got:
                break
            out += buf[:got]
        return bytes(out)

    def close(self) -> None:
        self.fileobj.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_input(path: Path):
    """The file at `path` for reading bytes, decompressed when it starts with the gzip magic."""
    fh = open(path, "rb")
    magic = fh.read(2)
    fh.seek(0)
    return Gunzip(fh) if magic == GZIP_MAGIC else fh


def _read_size(fh, batch_bytes: int) -> int:
    """Bytes to read next: batch_bytes, or what is left of a plain file (and a little more, for a
    file still growing) when that is less. A gzip stream's size is not known: batch_bytes."""
    if not isinstance(fh, io.BufferedReader):
        return batch_bytes
    try:
        left = os.fstat(fh.fileno()).st_size - fh.tell()
    except (OSError, ValueError, io.UnsupportedOperation):
        return batch_bytes
    return min(batch_bytes, max(left + 1, 64 << 10))


class ReadBuffers:
    """Buffers iter_chunks reads into in turn, kept from batch to batch and file to file: a
    fresh 16 MiB bytearray per batch is zero-filled and page-faulted in each time (~4,000 page
    faults a batch), a kept one is not. A batch's bytes stay valid until `count` more batches
    have been read into the same ReadBuffers: a caller that holds a batch while it reads the
    next ones needs as many buffers as batches it holds."""

    def __init__(self, count: int = 1):
        self._bufs = [bytearray() for _ in range(count)]
        self._next = 0

    def get(self, size: int, room: int = 0) -> bytearray:
        """The next buffer, at least `size` bytes long (its old contents are not cleared); one
        grown is given `room` more, so that a longer carried line does not grow it again."""
        i = self._next
        self._next = (i + 1) % len(self._bufs)
        if len(self._bufs[i]) < size:
            self._bufs[i] = bytearray()            # freed before the larger one is allocated
            self._bufs[i] = bytearray(size + room)
        return self._bufs[i]


def truncated(reason: str) -> str:
    return f"{reason}; this line was cut there and nothing after it could be read"


def iter_chunks(fh: IO[bytes], label: str, batch_bytes: int, on_bytes=None,
                max_line_bytes: int | None = None, buffers: ReadBuffers | None = None,
                split=None) -> Iterator[tuple[int, bytes | memoryview | LongLine]]:
    """(number of the first line, raw bytes of whole lines) in batches cut at newlines; line
    numbers are 1-based. Lines are counted on the bytes (a newline is never part of a multi-byte
    UTF-8 sequence), so batches can be decoded and split elsewhere, in parallel.

    A line that outgrows `max_line_bytes` with no newline in the buffer comes alone, as a
    LongLine (its first bytes, length, sha256), and is read past without being held: memory
    stays within about two batches whatever the input (newline-free, gzip bombs).

    With `buffers` the batches are read into those (see ReadBuffers: a batch is valid until as
    many more batches as it has buffers are read); without, each into a buffer of its own.

    With `split` (bytes -> a sequence of its lines, one more than it has newlines) each batch
    comes split by it, and is counted by its length: counting a 16 MiB batch's newlines
    (bytes.count, a byte at a time) costs more than Arrow's split of it, which the caller would
    do anyway."""
    line_no = 1
    carry = b""
    max_line = max_line_bytes or limits.MAX_LINE_BYTES
    raw = getattr(fh, "fileobj", fh)              # the file under a gzip stream
    position = 0
    long_line: LongLine | None = None             # a line being read past
    while True:
        # each batch reads into a buffer (its own, or the next of `buffers`), which the batch's
        # lines then use in place; a plain file's last batch needs only what is left, not
        # batch_bytes (a small file's 16 MiB buffer cost more to allocate than its lines to read)
        size = len(carry) + _read_size(fh, batch_bytes)
        buf = bytearray(size) if buffers is None else buffers.get(size, room=max_line)
        buf[:len(carry)] = carry
        view = memoryview(buf)[:size]
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
        lines, count = _whole_lines(buf, cut, split)
        yield line_no, lines
        line_no += count
    broken = getattr(fh, "broken", None) or getattr(getattr(fh, "fh", None), "broken", None)
    if long_line is not None:
        if broken:
            long_line.reason = truncated(broken)
        yield line_no, long_line
        return
    cut = carry.rfind(b"\n")         # whole lines after a long one, read with it
    if cut >= 0:
        lines, count = _whole_lines(carry, cut, split)
        yield line_no, lines
        line_no += count
        carry = carry[cut + 1:]
    if broken:                        # the tail of a cut-off .gz: one reject, whatever decoded of it
        tail = LongLine(carry)
        tail.reason = truncated(broken)
        yield line_no, tail
    elif carry:                       # the last line, with no newline after it
        yield line_no, carry if split is None else split(memoryview(carry))


def _whole_lines(buf: bytes | bytearray, cut: int, split):
    """(the batch buf[:cut], its line count): split by `split` and counted by its length, or as
    it is with its newlines counted."""
    body = memoryview(buf)[:cut]
    if split is None:
        return body, buf.count(b"\n", 0, cut) + 1
    lines = split(body)
    return lines, len(lines)


_SKIP = re.compile(r"[\s,\]]*")      # between elements: blanks, commas, the array's end


def iter_json_document(fh, label: str, batch_bytes: int, max_line_bytes: int
                       ) -> Iterator[tuple[int, bytes | LongLine]]:
    """A JSON array of records (Cloud NSS "JSON Array Notation") or one or more concatenated,
    pretty-printed JSON values, as (number of the first element, compact JSON lines of the next
    elements) in batches of about batch_bytes; element i is "line" i. Memory holds one batch and
    at most max_line_bytes of text: an element longer than that, one that is not valid JSON, and
    the tail of a cut-off .gz end the document as one reject (a LongLine with its reason), what
    came before it kept."""
    decoder = json.JSONDecoder()
    incremental = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text, pos, eof = "", 0, False
    number, first, out, size = 0, 1, [], 0

    def fill() -> None:
        nonlocal text, pos, eof
        block = fh.read(batch_bytes)
        eof = not block
        text = text[pos:] + incremental.decode(block, final=eof)
        pos = 0

    while True:
        pos = _SKIP.match(text, pos).end()
        if pos >= len(text):
            if eof:
                break
            fill()
            continue
        if text[pos] == "[" and number == 0:
            pos += 1                              # the array around the records
            continue
        try:
            obj, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            if not eof and len(text) - pos <= max_line_bytes:
                fill()                            # the element may continue in the next block
                continue
            if out:
                yield first, "\n".join(out).encode()
            number += 1
            if isinstance(exc, RecursionError):
                why = "JSON nested deeper than Python can read"
            elif len(text) - pos > max_line_bytes:
                why = f"a JSON element longer than {max_line_bytes} bytes (--max-line-bytes)"
            else:
                why = f"invalid JSON ({getattr(exc, 'msg', exc)})"
            broken = getattr(fh, "broken", None)
            tail = LongLine(text[pos:pos + max_line_bytes].encode())
            tail.reason = (truncated(broken) if broken and eof else
                           f"element {number}: {why}; the rest of the document is not read")
            yield number, tail
            return
        number += 1
        line = json.dumps(obj, ensure_ascii=False)
        out.append(line)
        size += len(line)
        pos = end
        if size >= batch_bytes:
            yield first, "\n".join(out).encode()
            first, out, size = number + 1, [], 0
    if out:
        yield first, "\n".join(out).encode()
    broken = getattr(fh, "broken", None)
    if broken:
        tail = LongLine(b"")
        tail.reason = truncated(broken)
        yield number + 1, tail
