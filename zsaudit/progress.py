"""Progress on long work: a bar on a terminal, plain log lines otherwise, nothing with --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

import click

T = TypeVar("T")


class Progress:
    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr

    @property
    def is_tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def log(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, file=self.stream)

    @contextmanager
    def bar(self, items: Iterable[T], label: str, length: int | None = None) -> Iterator[Iterable[T]]:
        """Iterate items with a progress bar on a TTY; plain 'label: n/N' lines otherwise."""
        if self.quiet:
            yield items
        elif self.is_tty:
            with click.progressbar(items, label=label, length=length, file=self.stream) as bar:
                yield bar
        else:
            yield self._plain(items, label, length)

    @contextmanager
    def meter(self, total: int, label: str) -> Iterator[Callable[[int], None]]:
        """Yield `advance(n)` for work measured in units (bytes): a bar on a TTY that moves
        within a large file, a plain 'label: N%' line at each tenth otherwise."""
        if self.quiet:
            yield lambda n: None
        elif self.is_tty:
            with click.progressbar(length=max(total, 1), label=label, file=self.stream) as bar:
                yield bar.update
        else:
            state = {"done": 0, "tenth": 0}

            def advance(n: int) -> None:
                state["done"] += n
                tenth = min(10, state["done"] * 10 // max(total, 1))
                if tenth > state["tenth"]:
                    state["tenth"] = tenth
                    self.log(f"{label}: {tenth * 10}%")

            yield advance

    def _plain(self, items: Iterable[T], label: str, length: int | None) -> Iterator[T]:
        total = length if length is not None else (len(items) if hasattr(items, "__len__") else None)
        for i, item in enumerate(items, 1):
            yield item
            if total:
                self.log(f"{label}: {i}/{total}")
            else:
                self.log(f"{label}: {i}")


QUIET = Progress(quiet=True)
