"""A generator of realistic DMARC aggregate report sets, written the way real reporters deliver them.

:func:`example_streams` describes who sends as a domain of the example stack — its senders' real networks from
the SPF lock, an unaligned vendor, a forwarder and a spoofer — and :func:`write_report_set` writes a report per
reporter per day for a run of days, each reporter in its own style: a zip attached to an email (as Google sends),
gzip, plain XML in the RFC 9990 namespace, and a quirky one (upper-case values, an empty org_name, a stray element,
gzip inside gzip). Everything is deterministic for a given seed.
"""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

from sending_domain.core.dmarc_evidence import sender_networks
from sending_domain.core.senders import spf_term
from sending_domain.core.settings import DomainSettings
from sending_domain.core.spf.lock import SpfLock

DAY = 86400
NS = "urn:ietf:params:xml:ns:dmarc-2.0"


@dataclass(frozen=True)
class Stream:
    """Mail one source sends as the domain each day, and what receivers see of it."""

    name: str
    ips: tuple[str, ...]
    per_day: int
    dkim: tuple[tuple[str, str, str], ...]  # (d=, selector, result)
    dkim_aligned: bool
    spf_aligned: bool
    envelope_from: str
    spf_result: str
    reasons: tuple[tuple[str, str], ...] = ()
    failing_share: float = 0.0  # this share of its mail fails both (a sender dropping out of alignment)


@dataclass(frozen=True)
class Reporter:
    org: str
    email: str
    style: str  # zip-email | gzip | rfc9990 | quirky
    share: float  # of each stream's daily mail this reporter sees


REPORTERS = (
    Reporter("google.com", "noreply-dmarc-support@google.com", "zip-email", 0.45),
    Reporter("Yahoo", "dmarchelp@yahooinc.com", "gzip", 0.2),
    Reporter("Outlook.com", "dmarcreport@microsoft.com", "rfc9990", 0.25),
    Reporter("", "dmarc@mail.example.net", "quirky", 0.1),
)


def _addresses(settings: DomainSettings, lock: SpfLock, sender: str, n: int, rng: random.Random) -> tuple[str, ...]:
    networks, problem = sender_networks(settings.domain, spf_term(sender), lock)
    assert not problem, problem
    nets = [net for net in networks.networks if net.num_addresses >= 4] or list(networks.networks)
    out = []
    for _ in range(n):
        net = rng.choice(nets)
        out.append(str(net.network_address + rng.randrange(min(net.num_addresses, 1 << 16))))
    return tuple(sorted(set(out)))


def example_streams(settings: DomainSettings, lock: SpfLock, *, seed: int = 1) -> dict[str, Stream]:
    """example.com as the example stack has it: SES and Google aligned, the office relay and the partner
    (aligned by DKIM with a selector of its own), a forwarder and a spoofer. Tests change one stream at a time."""
    rng = random.Random(seed)
    d = settings.domain
    ses_from = settings.ses.mail_from if settings.ses else f"bounce.{d}"
    return {
        "amazonses": Stream("amazonses", _addresses(settings, lock, "amazonses", 6, rng), 1000,
                            ((d, "s2026a", "pass"), ("amazonses.com", "ug7nbtf4gccmlpwj322ax3p6ow6yfsug", "pass")),
                            True, True, ses_from, "pass"),
        "google-workspace": Stream("google-workspace", _addresses(settings, lock, "google-workspace", 4, rng), 300,
                                   ((d, "google", "pass"),), True, True, d, "pass"),
        "office": Stream("ip4:192.0.2.0/24", ("192.0.2.10", "192.0.2.11"), 60, ((d, "office1", "pass"),), True, True, d, "pass"),
        "partner": Stream("include:_spf.partner.example.net", ("198.51.100.10", "198.51.100.20"), 40,
                          ((d, "partner1", "pass"),), True, False, "bounces.partner.example.net", "pass"),
        "forwarder": Stream("forwarder", ("203.0.113.5", "203.0.113.6"), 30, ((d, "s2026a", "pass"),), True, False, d, "fail"),
        "spoofer": Stream("spoofer", ("233.252.0.9",), 5, (), False, False, d, "fail"),
    }


def unaligned_partner(streams: dict[str, Stream]) -> dict[str, Stream]:
    """The partner as an unaligned vendor: signs with its own domain, bounces to its own domain."""
    partner = streams["partner"]
    return {**streams, "partner": replace(partner, dkim=(("partner.example.net", "pm", "pass"),), dkim_aligned=False)}


@dataclass
class ReportSet:
    files: list[Path] = field(default_factory=list)
    messages: int = 0
    reports: int = 0


def write_report_set(folder: Path, domain: str, streams: Iterable[Stream], *, first_day: int, days: int,
                     policy: tuple[str, int] = ("none", 100), reporters: Sequence[Reporter] = REPORTERS,
                     seed: int = 7) -> ReportSet:
    """One report per reporter per day from ``first_day`` (days since 1970) for ``days`` days, written to ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = ReportSet()
    streams = list(streams)
    for day in range(first_day, first_day + days):
        for reporter in reporters:
            rows = list(_rows(domain, streams, reporter, rng))
            out.messages += sum(count for _, count, *_ in rows)
            report_id = f"{reporter.org or 'anon'}-{domain}-{day}"
            xml = report_xml(domain, reporter, report_id, day * DAY, day * DAY + DAY - 1, policy, rows)
            out.files.append(_deliver(folder, reporter, report_id, xml))
            out.reports += 1
    return out


def _rows(domain: str, streams: Sequence[Stream], reporter: Reporter, rng: random.Random) -> Iterable[tuple]:
    for stream in streams:
        total = max(1, round(stream.per_day * reporter.share))
        failing = round(total * stream.failing_share)
        for fails, volume in ((False, total - failing), (True, failing)):
            if volume <= 0:
                continue
            ips = list(stream.ips)
            rng.shuffle(ips)
            chunks = _split(volume, min(len(ips), 3), rng)
            for ip, count in zip(ips, chunks):
                if fails:
                    yield (ip, count, False, False, domain, "unsigned.invalid", (), stream.reasons)
                else:
                    yield (ip, count, stream.dkim_aligned, stream.spf_aligned, domain, stream.envelope_from,
                           stream.dkim, stream.reasons, stream.spf_result)


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    if parts <= 1 or total < parts:
        return [total]
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total])]


def report_xml(domain: str, reporter: Reporter, report_id: str, begin: int, end: int, policy: tuple[str, int],
               rows: Sequence[tuple]) -> bytes:
    """The XML of one report, in the reporter's format (RFC 9990 namespace for rfc9990, else RFC 7489)."""
    rfc9990 = reporter.style == "rfc9990"
    quirky = reporter.style == "quirky"
    p, pct = policy
    up = (lambda v: v.upper()) if quirky else (lambda v: v)
    records = []
    for row in rows:
        ip, count, dkim_ok, spf_ok, header_from, envelope_from, dkim, reasons = row[:8]
        spf_result = row[8] if len(row) > 8 else "fail"
        disposition = "none" if (dkim_ok or spf_ok) or p == "none" else p
        reason = "".join(f"<reason><type>{t}</type><comment>{escape(c)}</comment></reason>" for t, c in reasons)
        sigs = "".join(f"<dkim><domain>{escape(dd)}</domain><selector>{escape(s)}</selector><result>{up(r)}</result></dkim>"
                       for dd, s, r in dkim)
        records.append(
            f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>{up(disposition)}</disposition><dkim>{up('pass' if dkim_ok else 'fail')}</dkim>"
            f"<spf>{up('pass' if spf_ok else 'fail')}</spf>{reason}</policy_evaluated></row>"
            f"<identifiers><header_from>{escape(header_from)}</header_from><envelope_from>{escape(envelope_from)}</envelope_from></identifiers>"
            f"<auth_results>{sigs}<spf><domain>{escape(envelope_from)}</domain><scope>mfrom</scope><result>{up(spf_result)}</result></spf>"
            f"</auth_results></record>")
    if rfc9990:
        testing = "y" if p != "none" and pct < 100 else "n"
        published = (f"<domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{p}</p><sp>{p}</sp><np>{p}</np>"
                     f"<testing>{testing}</testing><discovery_method>treewalk</discovery_method>")
        head = f'<feedback xmlns="{NS}"><version>1.0</version>'
        generator = "<generator>example-generator 1.0</generator>"
    else:
        published = f"<domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{up(p)}</p><sp>{p}</sp><pct>{pct}</pct>"
        head = "<feedback>"
        generator = ""
    stray = "<x_local_tag>1</x_local_tag>" if quirky else ""
    text = (f'<?xml version="1.0" encoding="UTF-8"?>\n{head}<report_metadata><org_name>{escape(reporter.org)}</org_name>'
            f"<email>{escape(reporter.email)}</email><report_id>{escape(report_id)}</report_id>{generator}"
            f"<date_range><begin>{begin}</begin><end>{end}</end></date_range></report_metadata>"
            f"<policy_published>{published}</policy_published>{stray}" + "\n".join(records) + "</feedback>\n")
    return text.encode()


def _deliver(folder: Path, reporter: Reporter, report_id: str, xml: bytes) -> Path:
    name = report_id.replace("/", "_")
    if reporter.style == "zip-email":
        path = folder / f"{name}.eml"
        path.write_bytes(email_with_attachment(zip_bytes(f"{name}.xml", xml), f"{name}.zip", "application", "zip"))
    elif reporter.style == "gzip":
        path = folder / f"{name}.xml.gz"
        path.write_bytes(gzip.compress(xml, mtime=0))
    elif reporter.style == "quirky":
        path = folder / f"{name}.xml.gz"
        path.write_bytes(gzip.compress(gzip.compress(xml, mtime=0), mtime=0))
    else:
        path = folder / f"{name}.xml"
        path.write_bytes(xml)
    return path


def zip_bytes(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(member, date_time=(2026, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def email_with_attachment(data: bytes, filename: str, maintype: str, subtype: str) -> bytes:
    message = EmailMessage()
    message["From"] = "noreply-dmarc-support@google.com"
    message["To"] = "dmarc@example.com"
    message["Subject"] = f"Report domain: example.com Submitter: google.com Report-ID: {filename}"
    message.set_content("This is an aggregate report from google.com.")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(message)
