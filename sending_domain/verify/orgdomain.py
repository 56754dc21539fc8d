"""The organizational domain (RFC 7489 §3.2), approximated without the Public Suffix List.

RFC 7489 §3.2 defines the organizational domain with a public suffix list: the public suffix plus one
label. The verifier does not ship the whole list; it uses a small rule that is right for the names a
sending-domain stack holds:

- the public suffix is the last label (``com``, ``org``, ``de``…),
- except for the two-label suffixes in :data:`TWO_LABEL_SUFFIXES` (``co.uk``, ``com.au``…), where it is
  the last two labels.

So ``mail.example.com`` → ``example.com`` and ``bounce.shop.example.co.uk`` → ``example.co.uk``. A name
under a private suffix the rule does not know (``foo.github.io``, ``x.s3.amazonaws.com``) gets a
too-short organizational domain, which can only make relaxed alignment look *more* permissive for such
names; sending domains do not live there.
"""

from __future__ import annotations

from sending_domain.core.records import normalize_name

TWO_LABEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "sch.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
        "co.nz", "net.nz", "org.nz", "govt.nz", "ac.nz",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
        "co.kr", "or.kr", "co.in", "net.in", "org.in", "co.za", "org.za", "co.il", "org.il",
        "com.br", "net.br", "org.br", "com.cn", "net.cn", "org.cn", "com.hk", "com.tw", "com.sg",
        "com.my", "com.mx", "com.ar", "com.co", "com.tr", "com.ua", "com.pl", "com.es", "com.pt",
    }
)  # fmt: skip


def organizational_domain(name: str) -> str:
    """The registered domain of ``name`` under the rule in the module docstring."""
    labels = normalize_name(name).split(".")
    keep = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-keep:])


def aligned(identifier: str, from_domain: str, mode: str) -> bool:
    """RFC 7489 §3.1: strict (``s``) — the names are equal; relaxed (``r``) — same organizational domain."""
    a, b = normalize_name(identifier), normalize_name(from_domain)
    if mode == "s":
        return a == b
    return organizational_domain(a) == organizational_domain(b)
