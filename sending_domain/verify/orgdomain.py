"""DMARC identifier alignment (RFC 7489 §3.1) on organizational domains from the Public Suffix List.

The organizational domain itself lives in :mod:`sending_domain.core.orgdomain`, so that what render publishes
(report authorization records), what verify checks and what drift compares all use the same list.
"""

from __future__ import annotations

from sending_domain.core.orgdomain import organizational_domain, same_organization
from sending_domain.core.records import normalize_name

__all__ = ["aligned", "organizational_domain"]


def aligned(identifier: str, from_domain: str, mode: str) -> bool:
    """RFC 7489 §3.1: strict (``s``) — the names are equal; relaxed (``r``) — same organizational domain."""
    a, b = normalize_name(identifier), normalize_name(from_domain)
    if mode == "s":
        return a == b
    return same_organization(a, b)
