"""Human output that fits: the terminal's width, colour only where it helps, progress that stays out of the way.

- Width: ``COLUMNS`` when set (as ``shutil.get_terminal_size`` reads it), else the terminal's; never below
  :data:`MIN_WIDTH`. Output to a file or a pipe without ``COLUMNS`` is not shortened.
- Colour: only when the stream is a terminal, ``NO_COLOR`` is unset or empty (no-color.org) and ``TERM`` is not
  ``dumb``. JSON, zone and Markdown output never carry colour.
- Long values are elided in the middle of the line's last column with ``…``; JSON and zone output keep them whole.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

MIN_WIDTH = 40
DEFAULT_WIDTH = 100
ELLIPSIS = "…"
_COLOURS = {"pass": "32", "warn": "33", "error": "35", "fail": "31", "bold": "1", "dim": "2"}


def width(stream: TextIO | None = None) -> int | None:
    """Columns to fit human output on ``stream`` (stdout) in: ``COLUMNS`` when set, else the terminal's; None
    (nothing elided) when the output goes to a file or a pipe and ``COLUMNS`` is not set."""
    stream = stream if stream is not None else sys.stdout
    if not os.environ.get("COLUMNS", "").strip().isdigit():
        isatty = getattr(stream, "isatty", None)
        if not (isatty and isatty()):
            return None
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def colour_enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR", "") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, style: str, enabled: bool) -> str:
    """``text`` in ``style`` (a status word, ``bold`` or ``dim``) when ``enabled``."""
    code = _COLOURS.get(style)
    return f"\x1b[{code}m{text}\x1b[0m" if enabled and code else text


def elide(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters: its start and end with ``…`` between, so both ends stay readable."""
    if len(text) <= room:
        return text
    if room <= len(ELLIPSIS):
        return ELLIPSIS[:room]
    head = (room - len(ELLIPSIS)) * 2 // 3
    tail = room - len(ELLIPSIS) - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def fit_lines(text: str, columns: int) -> str:
    """Every line of ``text`` elided to ``columns`` (for reports whose lines end in a long value)."""
    return "\n".join(elide(line, columns) for line in text.split("\n"))


class Progress:
    """``LABEL 37/500`` redrawn in place on a terminal's stderr, at most ten times a second; cleared at the end."""

    def __init__(self, stream: TextIO, label: str, clock: Callable[[], float] = time.monotonic, suffix: str = "") -> None:
        self.stream, self.label, self.clock, self.suffix = stream, label, clock, suffix
        self.last = float("-inf")
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if done != total and now - self.last < 0.1:
            return
        self.last = now
        self.stream.write(f"\r{self.label} {done}/{total}{self.suffix}")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


def progress_for(stream: TextIO, label: str, *, items: int, quiet: bool, at_least: int = 25) -> Progress | None:
    """A :class:`Progress` when a person watches ``stream`` (a terminal), the run is large and not ``quiet``."""
    isatty = getattr(stream, "isatty", None)
    if quiet or items < at_least or not (isatty and isatty()):
        return None
    return Progress(stream, label)
