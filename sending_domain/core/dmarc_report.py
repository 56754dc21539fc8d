"""DMARC aggregate reports (RFC 7489 Appendix C; RFC 9990) read from XML into values, with reporters' quirks.

Reports are untrusted input: anyone can mail one to a ``rua`` address. :func:`parse_report` reads one report from
a binary stream and returns a :class:`Report`, or raises :class:`ReportRefused` naming what is wrong.

**No DTDs, no entities.** A DTD can only stand before the document's first element (XML 1.0 §2.8), so the
prolog is read with ``defusedxml`` (DTDs, entity declarations and external references forbidden) up to the start
of the root element; only then does the C ``ElementTree`` parser read the document, which therefore never meets a
declaration. An entity bomb is refused at its ``<!DOCTYPE``, before any expansion. The body is read in chunks and
each finished ``<record>`` taken and dropped as it comes, so memory follows one chunk's records, not the report.

**Quirks warn, never refuse**: upper-case values (``Pass``), an empty ``org_name``, elements neither format
defines, a date range over 24 hours (RFC 7489 §7.2 asks for at most a day), a row whose IP address or count is
not valid (that row is skipped). What makes a report meaningless is refused: no ``report_id``, no date range, no
``policy_published/domain``, XML that does not parse.

Both formats: RFC 7489 reports have no namespace and may carry ``pct``; RFC 9990 reports live in
``urn:ietf:params:xml:ns:dmarc-2.0`` and may carry ``np``, ``testing``, ``discovery_method``, ``generator``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import defusedxml.ElementTree as DefusedElementTree
from defusedxml import DefusedXmlException

from sending_domain.core.errors import SendingDomainError
from sending_domain.core.text import printable

RFC9990_NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"
MAX_PROLOG = 1 << 20  # bytes before the root element: a declaration and a comment or two need far less
MAX_ROWS = 2_000_000  # records per report; the largest reporters send a few hundred thousand
MAX_TEXT = 1024  # characters kept of any value (domains are at most 253)
MAX_COUNT = 10**9  # messages in one row
MAX_TIME = 2**40  # seconds since 1970: far beyond any real report
DAY = 86400
_CHUNK = 1 << 16

# Elements the two formats define, by parent (RFC 7489 Appendix C, RFC 9990 Appendix A).
_KNOWN = {
    "feedback": {"version", "report_metadata", "policy_published", "record", "extension"},
    "report_metadata": {"org_name", "email", "extra_contact_info", "report_id", "date_range", "error", "generator"},
    "policy_published": {"domain", "adkim", "aspf", "p", "sp", "pct", "np", "fo", "testing", "discovery_method"},
    "record": {"row", "identifiers", "auth_results", "extension"},
    "row": {"source_ip", "count", "policy_evaluated"},
    "policy_evaluated": {"disposition", "dkim", "spf", "reason"},
    "identifiers": {"header_from", "envelope_from", "envelope_to"},
    "auth_results": {"dkim", "spf"},
}


class ReportRefused(SendingDomainError):
    """A report cannot be read."""

    exit_code = 2


class Row(NamedTuple):
    """One ``<record>``: what a reporter saw from one source with one set of results (a plain tuple: a report
    may hold hundreds of thousands)."""

    source_ip: str
    count: int
    disposition: str  # none | quarantine | reject (RFC 9990 also: pass)
    dkim_aligned: bool  # policy_evaluated/dkim = pass: a DKIM signature passed and aligned with header_from
    spf_aligned: bool  # policy_evaluated/spf = pass
    header_from: str
    envelope_from: str
    dkim: tuple[tuple[str, str, str], ...]  # (d= domain, selector, result) per signature
    spf: tuple[tuple[str, str, str], ...]  # (domain, scope, result)
    reasons: tuple[tuple[str, str], ...]  # (override type, comment)


@dataclass(frozen=True)
class Report:
    """One aggregate report: who sent it, the period, the policy the reporter found, its rows and its quirks."""

    reporter: str  # org_name, or the email address when org_name is empty
    org_name: str
    email: str
    report_id: str
    begin: int  # seconds since 1970, UTC
    end: int
    domain: str  # policy_published/domain
    p: str
    sp: str | None
    pct: int | None  # RFC 7489 only
    np: str | None  # RFC 9990
    testing: str | None  # RFC 9990: y | n
    adkim: str
    aspf: str
    format: str  # rfc7489 | rfc9990
    rows: tuple[Row, ...]
    warnings: tuple[str, ...]
    sha256: str  # of the XML as read: the same report delivered twice is recognised


def parse_report(stream: BinaryIO, *, max_rows: int = MAX_ROWS) -> Report:
    """Read one report from ``stream`` (XML bytes). ReportRefused says why a report cannot be used.

    Errors of the stream itself (a truncated gzip, a size cap) pass through unchanged: the caller names them.
    """
    digest = hashlib.sha256()
    head, root_tag = _prolog(stream, digest)
    parser = _Parser(root_tag, max_rows)
    pull = ElementTree.XMLPullParser(events=("start",))
    try:
        pull.feed(head)
        root = next(element for _, element in pull.read_events())  # the prolog saw it start within ``head``
        quiet = _quiet(pull)
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            pull.feed(chunk)
            if not quiet:
                for _ in pull.read_events():
                    pass
            parser.children(root, keep_last=True)
        pull.close()
    except ElementTree.ParseError as e:
        raise ReportRefused(f"the XML does not parse: {printable(str(e))}") from None
    parser.children(root, keep_last=False)
    return parser.report(digest.hexdigest())


def _quiet(pull: ElementTree.XMLPullParser) -> bool:
    """Stop ``pull`` reporting events once the root is known: the C parser then builds the tree without calling
    back into Python per element, and the caller takes each finished child of the root as it comes. This uses the
    hook ``XMLPullParser`` itself is built on; without it, events are read and dropped (slower, same result)."""
    try:
        pull._parser._setevents(pull._events_queue, ())  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # pragma: no cover - another ElementTree implementation
        return False
    for _ in pull.read_events():
        pass
    return True


# --- the prolog: defusedxml up to the root element -------------------------------------------------------


class _RootSeen(Exception):
    def __init__(self, tag: str) -> None:
        super().__init__(tag)
        self.tag = tag


class _PrologTarget:
    def start(self, tag: str, attrs: dict) -> None:
        raise _RootSeen(tag)

    def end(self, tag: str) -> None:  # pragma: no cover - never reached: start raises first
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def _prolog(stream: BinaryIO, digest: hashlib._Hash) -> tuple[bytes, str]:
    """The bytes read until the root element starts, checked by defusedxml (no DTD, no entity, no external),
    and the root element's tag."""
    checker = DefusedElementTree.DefusedXMLParser(target=_PrologTarget(), forbid_dtd=True, forbid_entities=True,
                                                  forbid_external=True)
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_PROLOG:
            chunk = stream.read(_CHUNK)
            if not chunk:
                raise ReportRefused("the XML has no root element")
            chunks.append(chunk)
            digest.update(chunk)
            size += len(chunk)
            checker.feed(chunk)
    except _RootSeen as root:
        return b"".join(chunks), root.tag
    except DefusedXmlException as e:
        raise ReportRefused(f"the XML declares a DTD or entities ({type(e).__name__}); reports never need one, "
                            "and an entity can expand without bound") from None
    except ElementTree.ParseError as e:
        raise ReportRefused(f"the XML does not parse: {printable(str(e))}") from None
    raise ReportRefused(f"no root element in the first {MAX_PROLOG // 1024} KiB")


# --- the document -------------------------------------------------------------------------------------------

_NAMES = sorted({name for names in _KNOWN.values() for name in names} | set(_KNOWN) | {
    "date_range", "begin", "end", "domain", "selector", "result", "human_result", "scope", "type", "comment"})


class _Parser:
    """Builds a report from the end of each element: metadata and policy as they end, records one at a time
    (each cleared once read). Element names are looked up in one table made for the report's namespace."""

    def __init__(self, root_tag: str, max_rows: int) -> None:
        self.max_rows = max_rows
        self.ns = root_tag[1:].partition("}")[0] if root_tag.startswith("{") else ""
        prefix = f"{{{self.ns}}}" if self.ns else ""
        self.names = {prefix + name: name for name in _NAMES}
        self.root_tag = root_tag
        self.meta: dict[str, str] = {}
        self.policy: dict[str, str] = {}
        self.rows: list[Row] = []
        self.warnings: dict[str, None] = {}
        self.stray: dict[str, None] = {}
        self.upper: dict[str, None] = {}
        self.skipped = 0
        self.skip_reasons: list[str] = []
        self.addresses: dict[str, str] = {}
        self.shared: dict[tuple, tuple] = {}
        if self.names.get(root_tag) != "feedback":
            raise ReportRefused(f"the root element is <{printable(root_tag)[:100]}>, not <feedback>: "
                                "not a DMARC aggregate report")
        if self.ns and self.ns != RFC9990_NAMESPACE:
            self.warnings[f"unknown namespace {printable(self.ns)[:100]!r}, read as RFC 9990"] = None

    def children(self, root: ElementTree.Element, *, keep_last: bool) -> None:
        """Take the root's finished children (all but the last while the document is still being read)."""
        count = len(root) - (1 if keep_last else 0)
        if count <= 0:
            return
        names = self.names
        for element in root[:count]:
            name = names.get(element.tag)
            if name == "record":
                self._record(element)
            elif name == "report_metadata":
                self.meta = self._fields(element, "report_metadata")
            elif name == "policy_published":
                self.policy = self._fields(element, "policy_published")
            elif name not in _KNOWN["feedback"]:
                self._stray(element.tag)
        del root[:count]

    def _stray(self, tag: str) -> None:
        if len(self.stray) < 20:
            self.stray[printable(tag)[:80]] = None

    def _fields(self, element: ElementTree.Element, parent: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for child in element:
            name = self.names.get(child.tag)
            if name is None or name not in _KNOWN[parent]:
                self._stray(child.tag)
            elif len(child):
                out.update({f"{name}/{k}": v for k, v in self._leaves(child).items()})
            else:
                out[name] = (child.text or "").strip()[:MAX_TEXT]
        return out

    def _leaves(self, element: ElementTree.Element) -> dict[str, str]:
        names = self.names
        return {names.get(c.tag) or "?": (c.text or "").strip()[:MAX_TEXT] for c in element}

    def _record(self, element: ElementTree.Element) -> None:
        if len(self.rows) >= self.max_rows:
            raise ReportRefused(f"more than {self.max_rows} records in one report")
        try:
            self.rows.append(self._row(element))
        except _BadRow as e:
            self.skipped += 1
            if len(self.skip_reasons) < 3:
                self.skip_reasons.append(str(e))

    def _row(self, record: ElementTree.Element) -> Row:  # noqa: C901 - one flat walk, kept in one place for speed
        names = self.names
        ip = count = disposition = header_from = envelope_from = dkim_eval = spf_eval = ""
        dkim: list[tuple[str, str, str]] = []
        spf: list[tuple[str, str, str]] = []
        reasons: list[tuple[str, str]] = []
        for part in record:
            name = names.get(part.tag)
            if name == "row":
                for child in part:
                    cname = names.get(child.tag)
                    if cname == "source_ip":
                        ip = (child.text or "").strip()
                    elif cname == "count":
                        count = (child.text or "").strip()
                    elif cname == "policy_evaluated":
                        for item in child:
                            iname = names.get(item.tag)
                            value = (item.text or "").strip()[:MAX_TEXT]
                            low = value.lower()
                            if low != value:
                                self._upper(value)
                            if iname == "disposition":
                                disposition = low
                            elif iname == "dkim":
                                dkim_eval = low
                            elif iname == "spf":
                                spf_eval = low
                            elif iname == "reason":
                                fields = self._leaves(item)
                                reasons.append((self._lower(fields.get("type")), fields.get("comment", "")))
                            else:
                                self._stray(item.tag)
                    else:
                        self._stray(child.tag)
            elif name == "identifiers":
                for child in part:
                    cname = names.get(child.tag)
                    if cname == "header_from":
                        header_from = (child.text or "").strip()[:MAX_TEXT].lower().rstrip(".")
                    elif cname == "envelope_from":
                        envelope_from = (child.text or "").strip()[:MAX_TEXT].lower().rstrip(".")
                    elif cname != "envelope_to":
                        self._stray(child.tag)
            elif name == "auth_results":
                for child in part:
                    cname = names.get(child.tag)
                    if cname != "dkim" and cname != "spf":
                        self._stray(child.tag)
                        continue
                    domain = second = result = ""
                    for leaf in child:
                        lname = names.get(leaf.tag)
                        if lname == "domain":
                            domain = (leaf.text or "").strip()[:MAX_TEXT].lower().rstrip(".")
                        elif lname == "selector" or lname == "scope":
                            second = (leaf.text or "").strip()[:MAX_TEXT].lower()
                        elif lname == "result":
                            result = (leaf.text or "").strip()[:MAX_TEXT]
                            if not result.islower():
                                self._upper(result)
                                result = result.lower()
                    (dkim if cname == "dkim" else spf).append((domain, second, result))
            elif name != "extension":
                self._stray(part.tag)
        shared = self.shared  # rows repeat the same values: one object each, so a report is small to hold and to send
        facts = (header_from, envelope_from, tuple(dkim), tuple(spf), tuple(reasons))
        header_from, envelope_from, dkim_t, spf_t, reasons_t = shared.setdefault(facts, facts) if len(shared) < 100_000 else facts
        return Row(self._address(ip), _count(count), disposition, dkim_eval == "pass", spf_eval == "pass",
                   header_from, envelope_from, dkim_t, spf_t, reasons_t)

    def _address(self, text: str) -> str:
        """The canonical form of a source address; rows repeat addresses, so each is checked once."""
        known = self.addresses.get(text)
        if known is None:
            known = _address(text)
            if len(self.addresses) < 100_000:
                self.addresses[text] = known
        return known

    def _lower(self, value: str | None) -> str:
        value = (value or "").strip()[:MAX_TEXT]
        low = value.lower()
        if low != value:
            self._upper(value)
        return low

    def _upper(self, value: str) -> None:
        if value and value.lower() != value and len(self.upper) < 20:
            self.upper[printable(value)[:40]] = None

    def report(self, sha256: str) -> Report:
        meta, policy = self.meta, self.policy
        missing = [what for what, value in (("report_metadata/report_id", meta.get("report_id")),
                                            ("report_metadata/date_range", meta.get("date_range/begin")),
                                            ("policy_published/domain", policy.get("domain"))) if not value]
        if missing:
            raise ReportRefused(f"missing {', '.join(missing)}: not a DMARC aggregate report")
        begin, end = _time(meta.get("date_range/begin", ""), "begin"), _time(meta.get("date_range/end", ""), "end")
        if end < begin:
            raise ReportRefused(f"the date range ends ({end}) before it begins ({begin})")
        org, email = meta.get("org_name", ""), meta.get("email", "")
        warnings = dict(self.warnings)
        if not org:
            warnings["empty org_name: the reporter is named by its email address"] = None
        if end - begin > DAY:
            warnings[f"the date range spans {(end - begin) / 3600:.0f} h (RFC 7489 §7.2: at most 24 h)"] = None
        if self.upper:
            warnings["upper-case values: " + ", ".join(list(self.upper)[:5])] = None
        if self.stray:
            warnings["elements neither format defines, ignored: " + ", ".join(sorted(self.stray)[:8])] = None
        if self.skipped:
            warnings[f"{self.skipped} record(s) skipped ({'; '.join(self.skip_reasons)})"] = None
        p = self._lower(policy.get("p")) or "none"
        pct = policy.get("pct", "")
        return Report(
            reporter=(org or email or "unknown").lower()[:200], org_name=org[:200], email=email[:200],
            report_id=meta["report_id"][:200], begin=begin, end=end,
            domain=policy["domain"].lower().rstrip(".")[:253], p=p,
            sp=self._lower(policy["sp"]) if policy.get("sp") else None,
            pct=int(pct) if pct.isdigit() and len(pct) <= 3 else None,
            np=self._lower(policy["np"]) if policy.get("np") else None,
            testing=self._lower(policy["testing"]) if policy.get("testing") else None,
            adkim=self._lower(policy.get("adkim")) or "r", aspf=self._lower(policy.get("aspf")) or "r",
            format="rfc9990" if self.ns else "rfc7489", rows=tuple(self.rows), warnings=tuple(warnings),
            sha256=sha256,
        )


class _BadRow(Exception):
    pass


def _address(text: str) -> str:
    """The canonical text of an IP address (an IPv4 address in canonical form is taken as it is, quickly)."""
    parts = text.split(".")
    if len(parts) == 4 and text.isascii() and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts):
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _BadRow(f"source_ip {printable(text)[:60]!r} is not an IP address") from None


def _count(text: str) -> int:
    if not text.isdigit() or len(text) > 10 or int(text) > MAX_COUNT:
        raise _BadRow(f"count {printable(text)[:20]!r} is not a number of messages")
    return int(text)


def _time(text: str, what: str) -> int:
    text = text.strip()
    if not text.isdigit() or len(text) > 13 or int(text) > MAX_TIME:
        raise ReportRefused(f"date_range/{what} {printable(text)[:30]!r} is not a time in seconds since 1970")
    return int(text)
