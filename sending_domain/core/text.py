"""Text that came from outside (DNS answers, SMTP replies, reports), made safe to print.

A TXT record or a server reply may hold escape sequences, carriage returns or a line that a CI system reads
as a command (``::error::``). :func:`printable` escapes every control character the way Python's ``repr``
does (``\\x1b``, ``\\n``, ``\\u2028``), so what reaches a terminal or a log is one inert line.
"""

from __future__ import annotations

import unicodedata

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with backslashes and every control, format or separator character (but the space) escaped."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        _escape(ch) if ch == "\\" or (ch != " " and unicodedata.category(ch)[0] in "CZ") else ch for ch in text
    )
