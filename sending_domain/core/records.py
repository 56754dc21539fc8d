"""DNS records as values.

A :class:`Record` is frozen and checks its input on construction, so two records are equal exactly when
they would publish the same thing, and sorting them gives a stable order.

TXT data is a tuple of character-strings, each at most 255 octets (RFC 1035 §3.3.14); resolvers join
them with no separator (RFC 7208 §3.3). :func:`split_txt` makes the canonical split, and
:attr:`Record.content` renders the form Cloudflare stores without re-splitting: quoted strings joined by
one space (cloudflare/terraform-provider-cloudflare #6238).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

MAX_STRING_OCTETS = 255  # RFC 1035 §3.3.14
_SPACE_WINDOW = 64  # how far back split_txt looks for a space to break after
RECORD_TYPES = ("TXT", "MX", "CNAME")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def normalize_name(name: str) -> str:
    """Lower-case, without the trailing dot."""
    return name.strip().rstrip(".").lower()


def is_hostname(name: str) -> bool:
    """True for a syntactically valid DNS name (underscore labels allowed, as in ``_dmarc``)."""
    name = normalize_name(name)
    if not name or len(name) > 253:
        return False
    return all(_LABEL.match(label) for label in name.split("."))


def containing_zone(name: str, zones: Collection[str]) -> str | None:
    """The most specific of ``zones`` (normalised names; a set or mapping for speed) that contains ``name``."""
    labels = normalize_name(name).split(".")
    return next((z for z in (".".join(labels[i:]) for i in range(len(labels))) if z in zones), None)


def split_txt(text: str, limit: int = MAX_STRING_OCTETS) -> tuple[str, ...]:
    """Split ``text`` into character-strings of at most ``limit`` octets.

    Never inside a UTF-8 sequence; after a space near the end of the chunk when there is one, so the
    terms of an SPF record stay whole and readable (the joined text is the same either way, RFC 7208
    §3.3), while text without spaces near the cut (a DKIM key) fills each string.
    """
    data = text.encode("utf-8")
    parts: list[str] = []
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # do not split a multi-byte character
            cut -= 1
        space = data.rfind(b" ", 0, cut)
        if space >= cut - _SPACE_WINDOW and data[cut : cut + 1] != b" ":
            cut = space + 1
        parts.append(data[:cut].decode("utf-8"))
        data = data[cut:]
    parts.append(data.decode("utf-8"))
    return tuple(parts)


def quote_txt(strings: tuple[str, ...]) -> str:
    """Presentation form: each string quoted (``"`` and ``\\`` escaped), joined by one space."""
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


@dataclass(frozen=True, order=True)
class Record:
    """One DNS record: ``name`` (FQDN, lower-case, no trailing dot), ``type``, ``data`` and ``ttl``.

    ``data`` holds the TXT character-strings, the MX ``(exchange,)`` or the CNAME ``(target,)``.
    """

    name: str
    type: str
    data: tuple[str, ...]
    ttl: int = 300
    priority: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalize_name(self.name))
        if not is_hostname(self.name):
            raise ValueError(f"invalid record name {self.name!r}")
        if self.type not in RECORD_TYPES:
            raise ValueError(f"unsupported record type {self.type!r} at {self.name}")
        if not isinstance(self.data, tuple) or not self.data:
            raise ValueError(f"{self.type} record at {self.name} needs data")
        if self.ttl < 1:
            raise ValueError(f"ttl of {self.name} must be positive")
        if self.type == "TXT":
            for s in self.data:
                if len(s.encode("utf-8")) > MAX_STRING_OCTETS:
                    raise ValueError(f"TXT string over {MAX_STRING_OCTETS} octets at {self.name}")
            if self.priority is not None:
                raise ValueError(f"TXT record at {self.name} takes no priority")
        else:
            if len(self.data) != 1 or not is_hostname(self.data[0]):
                raise ValueError(f"{self.type} record at {self.name} needs one host name")
            object.__setattr__(self, "data", (normalize_name(self.data[0]),))
            if self.type == "MX" and not (self.priority is not None and 0 <= self.priority <= 65535):
                raise ValueError(f"MX record at {self.name} needs a priority 0..65535")
            if self.type == "CNAME" and self.priority is not None:
                raise ValueError(f"CNAME record at {self.name} takes no priority")

    @classmethod
    def txt(cls, name: str, text: str, ttl: int = 300) -> Record:
        return cls(name, "TXT", split_txt(text), ttl)

    @classmethod
    def mx(cls, name: str, exchange: str, priority: int, ttl: int = 300) -> Record:
        return cls(name, "MX", (exchange,), ttl, priority)

    @property
    def value(self) -> str:
        """TXT: the joined text a resolver sees; MX/CNAME: the host name."""
        return "".join(self.data)

    @property
    def content(self) -> str:
        """What goes into Cloudflare's ``content``: canonical quoted TXT, or the bare host name."""
        return quote_txt(self.data) if self.type == "TXT" else self.data[0]

    def zone_line(self) -> str:
        """One line of an RFC 1035 zone file (absolute names)."""
        rdata = self.content if self.type == "TXT" else self.data[0] + "."
        if self.type == "MX":
            rdata = f"{self.priority} {rdata}"
        return f"{self.name}. {self.ttl} IN {self.type} {rdata}"

    def as_dict(self) -> dict:
        out: dict = {"name": self.name, "type": self.type, "ttl": self.ttl, "value": self.value}
        if self.type == "TXT":
            out["strings"] = list(self.data)
        if self.priority is not None:
            out["priority"] = self.priority
        return out
