"""DNS answers as plain values, so the core can reason about DNS without doing any I/O.

A :class:`Answer` is what one (name, type) question returned. Failures that are not answers (timeout,
SERVFAIL, REFUSED) never become an ``Answer``: the resolver raises :class:`~.errors.DnsTransientError`
instead, and whatever was being computed is abandoned. A mapping of questions to answers is a
*snapshot*: the SPF flattener reads one, the vendor lock stores one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "nxdomain", "nodata"]
Question = tuple[str, str]  # (lower-case name without trailing dot, "TXT" | "A" | "AAAA" | "MX")
QUERY_TYPES = ("TXT", "A", "AAAA", "MX")


@dataclass(frozen=True)
class Answer:
    """``status`` ok with ``values``, or nxdomain/nodata (both "void" in RFC 7208 §4.6.4 terms).

    ``values`` are canonical and sorted: TXT — each record's character-strings joined; A/AAAA — the
    compressed address text; MX — ``"<preference> <exchange>"`` with the exchange lower-case, no dot.
    """

    status: Status
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in ("ok", "nxdomain", "nodata"):
            raise ValueError(f"unknown answer status {self.status!r}")
        if self.status != "ok" and self.values:
            raise ValueError("a void answer has no values")
        if self.status == "ok" and not self.values:
            object.__setattr__(self, "status", "nodata")
        object.__setattr__(self, "values", tuple(sorted(self.values)))

    @property
    def void(self) -> bool:
        return self.status != "ok"

    def as_json(self) -> dict:
        return {"status": self.status, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: Mapping) -> Answer:
        return cls(data["status"], tuple(data.get("values", ())))


Snapshot = Mapping[Question, Answer]
