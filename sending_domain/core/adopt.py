"""Taking over a live domain: what happens to each live record at a name the stack publishes.

Pure: the Pulumi program (live records from Cloudflare, with ids and comments) and ``plan --live`` (live
records from DNS, whose owner cannot be known) hand :func:`classify` the rendered domain and what is live at
its names; it returns one :class:`Step` per desired record and per live record there:

- ``create``: nothing of ours is live in the slot;
- ``unchanged``: the live record is ours (our comment, or from DNS with exactly our value) and stays;
- ``adopt``: a record not created by this stack already holds our value; it is imported, not created;
- ``update``: a live record is imported and changed in place, so at no moment do two records compete;
- ``delete``: a second competing record in a slot where one is adopted;
- ``keep``: an unrelated record at one of our names (site verification and the like), never touched;
- ``block``: the deploy must not go ahead; the reason says why and what to do.

Competing means in the same namespace (RFC 7208 §4.5: one ``v=spf1`` TXT per name; RFC 7489 §6.6.3: one
``v=DMARC1``), any TXT at a DKIM selector name, any MX at the MAIL FROM name or at the name receiving DMARC
reports. A live DKIM key at a selector the stack publishes is never overwritten, even with ``adopt``: someone
signs with it today. A CNAME at one of our names blocks (no other data may sit beside a CNAME, RFC 1034 §3.6.2).

DMARC: the policy receivers apply today is where an adopted domain starts; lowering it needs ``dmarc.force``,
and raising it moves one rung at a time like any deployment (:func:`~.dmarc.check_transition`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sending_domain.core import dkim, dmarc
from sending_domain.core.records import normalize_name
from sending_domain.core.render import NAMESPACE, DesiredDomain
from sending_domain.core.spf.terms import is_spf_record

OWNER_COMMENT = "managed by sending-domain"  # the comment on records of earlier versions, any stack


def owner_comment(stack: str) -> str:
    """The comment on every record the program publishes for ``stack``, so two stacks never take each other's."""
    return f"{OWNER_COMMENT} (stack {stack})"
ACTIONS = ("create", "unchanged", "adopt", "update", "delete", "keep", "block")
IMPORTED = ("unchanged", "adopt", "update")  # steps whose live record the program declares with import_
_WHAT = {"spf": "SPF record", "dmarc": "DMARC record", "dkim": "TXT record", "mx": "MX record", "reports-mx": "MX record"}
_HARM = {  # what publishing ours beside a competing record would do
    "spf": "make two SPF records, a permerror for every receiver (RFC 7208 §4.5)",
    "dmarc": "make two DMARC records, which receivers ignore (RFC 7489 §6.6.3)",
    "dkim": "put two records at one selector",
    "mx": "give the MAIL FROM domain a second MX",
    "reports-mx": "split the DMARC reports between SES and another mail server",
}
_DUPLICATE = {  # why a second competing record is deleted
    "spf": "a second SPF record at this name (two make SPF permerror, RFC 7208 §4.5): deleted",
    "dmarc": "a second DMARC record at this name (receivers then apply none, RFC 7489 §6.6.3): deleted",
    "dkim": "a second TXT record at this selector name: deleted",
    "mx": "an extra MX at the MAIL FROM name (SES wants exactly one): deleted",
    "reports-mx": "an extra MX at the reports name (reports would go astray): deleted",
}
_MAX_CONTENT = 8192  # bytes of a live record's content read; Cloudflare's TXT limit is 2048 characters


@dataclass(frozen=True)
class LiveRecord:
    """A record live at one of our names: from Cloudflare (``id`` and ``comment`` known) or DNS (both None)."""

    name: str
    type: str
    content: str  # TXT: Cloudflare's content (quoted strings, or plain text) or the joined text; MX: the host
    id: str | None = None
    comment: str | None = None
    priority: int | None = None
    stack: str | None = None  # the stack asking: its own comment marks its records

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", normalize_name(self.name))
        object.__setattr__(self, "type", self.type.upper())
        object.__setattr__(self, "content", self.content[:_MAX_CONTENT])

    @property
    def owner(self) -> bool | None:
        """True when this stack published it (its comment, or the plain one of earlier versions), False when
        not (another stack's comment included), None when DNS cannot tell."""
        if self.id is None:
            return None
        comment = (self.comment or "").strip()
        return comment == OWNER_COMMENT or (self.stack is not None and comment == owner_comment(self.stack))

    @property
    def text(self) -> str:
        """TXT: the joined text receivers see (RFC 7208 §3.3); MX: ``"<priority> <host>"``; else the content."""
        if self.type == "TXT":
            return txt_text(self.content)
        if self.type == "MX":
            return f"{self.priority} {normalize_name(self.content)}"
        return self.content

    def describe(self) -> str:
        where = f" (id {self.id})" if self.id else ""
        return f"{self.name} {self.type} {self.text!r}{where}"


def txt_text(content: str) -> str:
    """The text of Cloudflare TXT content: quoted character-strings joined, or unquoted content as it is."""
    stripped = content.strip()
    if not stripped.startswith('"'):
        return content
    parts: list[str] = []
    i, n = 0, len(stripped)
    while i < n:
        if stripped[i] in " \t":
            i += 1
            continue
        if stripped[i] != '"':
            return content  # not a sequence of quoted strings: take it as written
        i += 1
        chunk: list[str] = []
        while i < n and stripped[i] != '"':
            if stripped[i] == "\\" and i + 1 < n:
                i += 1
            chunk.append(stripped[i])
            i += 1
        if i >= n:
            return content  # an unterminated quote
        parts.append("".join(chunk))
        i += 1
    return "".join(parts)


@dataclass(frozen=True)
class Step:
    """What happens to one desired record or one live record."""

    action: str
    name: str
    type: str
    key: str | None  # the desired record's logical name, None for live records outside our slots
    live: LiveRecord | None
    reason: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown adoption action {self.action!r}")

    def as_json(self) -> dict:
        live = None
        if self.live is not None:
            live = {"id": self.live.id, "content": self.live.text, "comment": self.live.comment}
        return {"action": self.action, "name": self.name, "type": self.type, "key": self.key, "live": live,
                "reason": self.reason}


@dataclass(frozen=True)
class Adoption:
    """The steps for one domain, and the DMARC stage receivers apply today (None: no usable policy)."""

    domain: str
    steps: tuple[Step, ...]
    live_stage: dmarc.Stage | None
    reimport_own: bool = False  # the state lost this domain's records: ours are imported too

    @property
    def blockers(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == "block")

    @property
    def deletions(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action == "delete")

    def import_id(self, key: str) -> str | None:
        """The Cloudflare id of the record not created by this stack that the desired record ``key`` takes over.

        Records of ours are not imported: they are in the state already, and the engine treats an import
        id that differs from the state's id (Cloudflare's import id is ``<zone>/<record>``, the state's the
        bare record id) as "import this, then delete the old one", which would delete the live record. Only
        when the stack says the state lost them (``reimportOwn``) are they imported like the others.
        """
        for step in self.steps:
            live = step.live
            if step.key == key and step.action in IMPORTED and live is not None and live.owner is not None:
                return live.id if (live.owner is False or self.reimport_own) else None
        return None


@dataclass(frozen=True)
class _Slot:
    key: str
    name: str
    type: str
    namespace: str
    text: str | None  # the wanted value (TXT text, "<priority> <host>"); None for a DKIM key not generated yet


def classify(
    desired: DesiredDomain,
    live: Iterable[LiveRecord],
    *,
    adopt: bool,
    force: bool = False,
    reimport_own: bool = False,
    passed: tuple[dmarc.Stage, dmarc.Stage] | None = None,
) -> Adoption:
    """The steps that take ``desired`` over from what is ``live`` at its names (module docstring).

    ``reimport_own``: the Pulumi state lost this domain, so records of ours are imported as well; a live DKIM
    key of ours is then refused like anyone's, because its private half was in the lost state. ``passed``: the
    DMARC step the evidence file admits (:func:`~.dmarc.check_transition`).
    """
    slots = _slots(desired)
    records = sorted(set(live), key=lambda r: (r.name, r.type, r.text, r.id or ""))
    names = {s.name for s in slots}
    steps: list[Step] = []
    claimed: set[LiveRecord] = set()
    for slot in slots:
        here = [r for r in records if r.name == slot.name]
        cname = next((r for r in here if r.type == "CNAME"), None)
        if cname is not None:
            steps.append(_cname_block(slot, cname))
            claimed.add(cname)
            continue
        competing = [r for r in here if r.type == slot.type and _competes(slot.namespace, r)]
        claimed.update(competing)
        steps += _slot_steps(slot, competing, adopt=adopt, reimport_own=reimport_own)
    for record in records:
        if record.name in names and record not in claimed:
            steps.append(Step("keep", record.name, record.type, None, record, "unrelated record: left as it is"))
    live_stage, dmarc_steps = _dmarc_start(desired, steps, force=force, passed=passed)
    return Adoption(desired.domain, tuple(steps + dmarc_steps), live_stage, reimport_own)


def _slots(desired: DesiredDomain) -> list[_Slot]:
    slots = []
    for r in desired.records:
        rec = r.record
        text = f"{rec.priority} {rec.value}" if rec.type == "MX" else rec.value
        slots.append(_Slot(r.key, rec.name, rec.type, NAMESPACE[r.purpose], text))
    slots += [_Slot(p.key, p.name, "TXT", "dkim", None) for p in desired.pending]
    return slots


def _competes(namespace: str, record: LiveRecord) -> bool:
    if namespace == "spf":
        return is_spf_record(record.text)
    if namespace == "dmarc":
        return dmarc.is_dmarc_record(record.text)
    return True  # dkim: any TXT at the selector name; mx, reports-mx: any MX at that name


def _slot_steps(slot: _Slot, competing: Sequence[LiveRecord], *, adopt: bool, reimport_own: bool = False) -> list[Step]:
    if not competing:
        return [Step("create", slot.name, slot.type, slot.key, None, "nothing live here")]
    ours = [r for r in competing if r.owner is True or (r.owner is None and slot.text == r.text)]
    if slot.namespace == "dkim":
        keys = [r for r in competing if (r not in ours or (reimport_own and r.owner is True)) and _holds_key(r)]
        if keys:
            return [_dkim_block(slot, r) for r in keys]
    if ours:
        kept = _preferred(slot, ours)[0]
    elif adopt:
        kept = _preferred(slot, competing)[0]
    else:
        return [_conflict_block(slot, r) for r in competing]
    steps = [_kept_step(slot, kept)]
    for extra in competing:
        if extra is kept:
            continue
        if extra.owner is True or adopt:
            steps.append(Step("delete", extra.name, extra.type, slot.key, extra, _DUPLICATE[slot.namespace]))
        else:
            steps.append(_conflict_block(slot, extra))
    return steps


def _preferred(slot: _Slot, competing: Sequence[LiveRecord]) -> list[LiveRecord]:
    """Which competing record to adopt: one already holding our value, else the first in a stable order."""
    return sorted(competing, key=lambda r: (r.text != slot.text, r.text, r.id or ""))


def _kept_step(slot: _Slot, kept: LiveRecord) -> Step:
    same = slot.text is None or slot.text == kept.text
    if kept.owner is not False and (kept.owner or same):
        action = "unchanged" if same else "update"
        return Step(action, slot.name, slot.type, slot.key, kept, "published by this stack")
    if same:
        return Step("adopt", slot.name, slot.type, slot.key, kept, "already holds the stack's value: imported as it is")
    return Step("update", slot.name, slot.type, slot.key, kept, "imported and changed in place to the stack's value")


def _conflict_block(slot: _Slot, record: LiveRecord) -> Step:
    what = _WHAT[slot.namespace]
    unsure = " (unless this stack published it: DNS cannot tell)" if record.owner is None else ""
    reason = (
        f"another {what}, not created by this stack, is live at {slot.name}{unsure}: {record.text!r}"
        f"{f' (id {record.id})' if record.id else ''}; publishing ours beside it would "
        f"{_HARM[slot.namespace]}. Either set adopt: true for this domain (it is then imported and updated in "
        f"place), or delete it first"
    )
    return Step("block", record.name, record.type, slot.key, record, reason)


def _holds_key(record: LiveRecord) -> bool:
    try:
        return not dkim.parse_dkim_value(record.text).revoked
    except ValueError:
        return False


def _dkim_block(slot: _Slot, record: LiveRecord) -> Step:
    selector = slot.name.split("._domainkey.", 1)[0]
    unsure = {
        None: " (unless this stack published it: pass --outputs so the deployed key can be compared)",
        True: " (published by this stack, but its private half was in the lost state)",
    }.get(record.owner, "")
    reason = (
        f"selector {selector} already publishes a DKIM key{unsure}{f' (id {record.id})' if record.id else ''}: "
        f"someone may sign with it today, so it is never overwritten, even with adopt: true. "
        f"Give this stack's key a new selector (that is how a rotation starts anyway)"
    )
    return Step("block", record.name, record.type, slot.key, record, reason)


def _cname_block(slot: _Slot, cname: LiveRecord) -> Step:
    reason = (
        f"{slot.name} is a CNAME to {cname.text}{f' (id {cname.id})' if cname.id else ''}; no other record may sit "
        f"beside a CNAME (RFC 1034 §3.6.2). Delete it if this stack is to publish the {_WHAT[slot.namespace]} "
        f"there (a hosted service it points to stops being used), or remove the record from the stack"
    )
    return Step("block", cname.name, cname.type, slot.key, cname, reason)


# --- DMARC -------------------------------------------------------------------------------------


def _dmarc_start(
    desired: DesiredDomain, steps: Sequence[Step], *, force: bool, passed: tuple[dmarc.Stage, dmarc.Stage] | None
) -> tuple[dmarc.Stage | None, list[Step]]:
    """The stage receivers apply today, and a block when the stack would lower it or jump past the next rung."""
    name = dmarc.dmarc_record_name(desired.domain)
    key = next((r.key for r in desired.records if r.purpose == "dmarc"), None)
    live = [s.live for s in steps if s.key == key and s.live is not None and s.action != "keep"]
    if len(live) != 1:  # none, or two: receivers apply no policy (RFC 7489 §6.6.3)
        return None, []
    stage = live_stage(live[0].text)
    if stage is None or live[0].owner is True:  # our own record: the DmarcStage state guards the move
        return stage, []
    new = desired.dmarc_policy.stage
    if new < stage and not force:
        reason = (
            f"DMARC for {desired.domain} enforces {stage} today and the stack asks for {new}: adopting it would "
            f"weaken the policy receivers apply. Set dmarc to {stage} to adopt it as it is, or "
            f"{dmarc.FORCE_HINT} to lower it on purpose"
        )
        return stage, [Step("block", name, "TXT", key, live[0], reason)]
    reason = dmarc.check_transition(stage, new, force=force, passed=passed, domain=desired.domain)
    return stage, ([Step("block", name, "TXT", key, live[0], reason)] if reason else [])


def live_stage(text: str) -> dmarc.Stage | None:
    """The stage a live DMARC record enforces, or None when it does not parse (receivers then ignore it)."""
    try:
        policy = dmarc.parse_dmarc_policy(text)
    except ValueError:
        return None
    return policy.stage


# --- SES ---------------------------------------------------------------------------------------

SES_TAG = ("managed-by", "sending-domain")  # the tag the program puts on every SES identity it manages


@dataclass(frozen=True)
class LiveIdentity:
    """What SES says of an existing identity: its tags, and for BYODKIM its signing origin and selectors."""

    tags: tuple[tuple[str, str], ...] = ()
    signing_origin: str | None = None  # AWS_SES (Easy DKIM) or EXTERNAL (BYODKIM)
    selectors: tuple[str, ...] = ()  # BYODKIM: the selector SES signs with

    def ours(self, selectors: Iterable[str]) -> bool:
        """Tagged by the program, or signing with one of this stack's selectors (identities made before tags)."""
        if SES_TAG in self.tags:
            return True
        return self.signing_origin == "EXTERNAL" and bool(set(self.selectors) & set(selectors))


def classify_ses(
    domain: str, region: str, live: LiveIdentity | None, *, adopt: bool, selector: str, selectors: Iterable[str]
) -> Step:
    """What happens to the SES identity of ``domain`` in ``region`` (``live``: the existing one, if any).

    An existing identity is always declared with ``import_=<domain>``: its id in the state is the domain
    itself, so for an identity already in the state the import is a no-op (the engine's rule).
    """
    if live is None:
        return Step("create", domain, "SES", None, None, f"no SES identity for {domain} in {region}")
    if live.ours(selectors):
        return Step("unchanged", domain, "SES", None, None, "created by this stack")
    if adopt:
        return Step(
            "adopt", domain, "SES", None, None,
            f"the SES identity {domain} in {region} exists: imported, and its DKIM signing moves to this stack's "
            f"key (selector {selector}). While SES verifies the new key (minutes, up to 72 hours) it may send "
            "unsigned mail: adopt outside busy hours, and keep DMARC where it is until `sending-domain verify` passes",
        )
    return Step(
        "block", domain, "SES", None, None,
        f"an SES identity for {domain} already exists in {region} and was not created by this stack: set "
        "adopt: true for this domain to import it (its DKIM signing then moves to this stack's key), or delete it",
    )
