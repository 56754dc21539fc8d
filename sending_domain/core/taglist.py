"""Tag lists: ``name=value`` specs separated by ``;``, as in DKIM key records and DMARC records.

RFC 6376 §3.2 defines the syntax; RFC 7489 §6.4 has DMARC records follow it. The two users differ in
details, and each states its own in a :class:`TagSyntax`: which whitespace may surround names and
values, whether names are case-insensitive, what a value may hold, and which RFC the reasons cite.

Pure: no Pulumi, no sockets, no environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # RFC 6376 §3.2 tag-name = ALPHA *ALNUMPUNC


@dataclass(frozen=True)
class TagSyntax:
    """How one record type reads its tag list."""

    cite: str  # where the rule lives, quoted in every reason, such as "RFC 6376 §3.2"
    wsp: str  # whitespace stripped around names and values
    end_wsp: str | None  # whitespace that may follow a trailing ";" (None: any whitespace, as str.strip())
    fold_names: bool  # names are case-insensitive: compared and returned lower-case
    value_reason: Callable[[str, str], str | None]  # why (name, value) has an invalid value, or None
    duplicate_note: str = ""  # said after "duplicate tag 'x'"


def parse_tags(text: str, syntax: TagSyntax) -> dict[str, str]:
    """The tags of ``text`` in order. Raises ValueError with the reason.

    Reasons: a tag-spec without ``=``, a bad tag name, a bad value (``syntax.value_reason``), a duplicate
    tag (both RFCs: a duplicate makes the whole list invalid). A trailing ``;`` is allowed.
    """
    specs = text.split(";")
    if specs and not specs[-1].strip(syntax.end_wsp):
        specs.pop()
    tags: dict[str, str] = {}
    for index, spec in enumerate(specs, start=1):
        name, value = _tag_spec(index, spec, syntax)
        if name in tags:
            raise ValueError(f"duplicate tag {name!r}{syntax.duplicate_note} ({syntax.cite})")
        tags[name] = value
    return tags


def _tag_spec(index: int, spec: str, syntax: TagSyntax) -> tuple[str, str]:
    if "=" not in spec:
        shown = spec.strip() or "(empty)"
        raise ValueError(f"tag {index} {shown!r} has no '=' ({syntax.cite} tag=value)")
    name, value = (part.strip(syntax.wsp) for part in spec.split("=", 1))
    if not TAG_NAME.match(name):
        raise ValueError(f"tag {index} has an invalid name {name!r} ({syntax.cite})")
    if syntax.fold_names:
        name = name.lower()
    if reason := syntax.value_reason(name, value):
        raise ValueError(reason)
    return name, value
