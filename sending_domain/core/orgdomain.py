"""The organizational domain (RFC 7489 §3.2): the public suffix of a name plus one label, from the Public Suffix List.

The list is the one bundled with the ``publicsuffixlist`` package (read from the package, offline, once, on
first use), ICANN and private sections alike, as RFC 7489 §3.2 asks: ``mail.example.co.uk`` → ``example.co.uk``,
``foo.github.io`` → ``foo.github.io`` (``github.io`` is a public suffix), ``x.b.c.kawasaki.jp`` →
``b.c.kawasaki.jp``. A name that is itself a public suffix is its own organizational domain; under a top-level
domain the list does not know, the list's default rule applies (the last label is the suffix).

Used for DMARC alignment (verify) and for report authorization (render, verify and drift): RFC 7489 §7.1 asks for
``<domain>._report._dmarc.<destination>`` only when the two organizational domains differ.
"""

from __future__ import annotations

import functools
from typing import Any

from sending_domain.core.records import normalize_name


@functools.cache
def _list() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def organizational_domain(name: str) -> str:
    """The registered domain of ``name`` (RFC 7489 §3.2); ``name`` itself when it is a public suffix."""
    name = normalize_name(name)
    return _list().privatesuffix(name) or name


def same_organization(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` have the same organizational domain (RFC 7489 §3.2)."""
    return organizational_domain(a) == organizational_domain(b)
