"""International domain names (RFC 5890): the A-label form DNS publishes (``bücher.example`` → ``xn--bcher-kva.example``).

UTS #46 mapping (case folding, width, the compatibility forms people type) then IDNA 2008, with the ``idna``
package when it is installed (it comes with the DNS stack); without it, Python's own IDNA 2003 codec, which
agrees on the names a stack holds. Pure: no I/O.
"""

from __future__ import annotations


def to_a_label(name: str) -> str | None:
    """``name`` with each non-ASCII label as its A-label; ASCII unchanged; None when it cannot be one."""
    if name.isascii():
        return name
    text = name.strip().rstrip(".")
    try:
        import idna
    except ImportError:  # pragma: no cover - idna is installed with the DNS stack
        try:
            return text.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
