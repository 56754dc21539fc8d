"""Aggregate reports read from every wrapping reporters use, their quirks warned, hostile input refused quickly."""

from __future__ import annotations

import gzip
import io
import time
import tracemalloc
import zipfile

import pytest

from sending_domain.core.dmarc_payload import Payload, PayloadError, Refusal, reports_in, sniff
from sending_domain.core.dmarc_report import Report, ReportRefused, Row, parse_report
from tests.dmarc_reports import REPORTERS, email_with_attachment, report_xml, zip_bytes

GOOGLE, YAHOO, OUTLOOK, QUIRKY = REPORTERS
ROWS = [
    ("192.0.2.10", 12, True, True, "example.com", "bounce.example.com", (("example.com", "s2026a", "pass"),), (), "pass"),
    ("2001:db8::1", 3, False, False, "example.com", "example.net", (), (("mailing_list", "list.example.org"),), "fail"),
]
XML = report_xml("example.com", YAHOO, "r-1", 1_700_000_000, 1_700_086_399, ("quarantine", 25), ROWS)


def read(name: str, data: bytes, **kw: object) -> list[Report | Refusal]:
    out: list[Report | Refusal] = []
    for part in reports_in(name, data, **kw):  # type: ignore[arg-type]
        if isinstance(part, Refusal):
            out.append(part)
            continue
        try:
            report = parse_report(part.open())
        except (ReportRefused, PayloadError) as e:
            out.append(Refusal(part.name, str(e)))
        else:
            out.append(Report(**{**report.__dict__, "warnings": (*part.warnings, *report.warnings)}))
    return out


def one(name: str, data: bytes, **kw: object) -> Report:
    [report] = read(name, data, **kw)
    assert isinstance(report, Report), report
    return report


def refusal(name: str, data: bytes, **kw: object) -> str:
    [result] = read(name, data, **kw)
    assert isinstance(result, Refusal), result
    return result.reason


# --- formats ---------------------------------------------------------------------------------------------------


def test_rfc7489_report_is_read_exactly() -> None:
    report = one("r.xml", XML)
    assert (report.reporter, report.org_name, report.email, report.report_id) == ("yahoo", "Yahoo", "dmarchelp@yahooinc.com", "r-1")
    assert (report.begin, report.end, report.domain, report.p, report.pct, report.sp) == (1_700_000_000, 1_700_086_399, "example.com", "quarantine", 25, "quarantine")
    assert (report.format, report.np, report.testing, report.warnings) == ("rfc7489", None, None, ())
    assert report.rows == (
        Row("192.0.2.10", 12, "none", True, True, "example.com", "bounce.example.com",
            (("example.com", "s2026a", "pass"),), (("bounce.example.com", "mfrom", "pass"),), ()),
        Row("2001:db8::1", 3, "quarantine", False, False, "example.com", "example.net", (),
            (("example.net", "mfrom", "fail"),), (("mailing_list", "list.example.org"),)),
    )


def test_rfc9990_namespace_and_its_new_fields() -> None:
    report = one("r.xml", report_xml("example.com", OUTLOOK, "o-1", 0, 86399, ("reject", 50), ROWS))
    assert (report.format, report.np, report.testing, report.pct, report.p) == ("rfc9990", "reject", "y", None, "reject")
    assert len(report.rows) == 2 and report.warnings == ()


def test_the_same_report_in_every_wrapping_gives_the_same_report() -> None:
    plain = one("r.xml", XML)
    wrapped = {
        "r.xml.gz": gzip.compress(XML),
        "r.zip": zip_bytes("r.xml", XML),
        "r.eml": email_with_attachment(zip_bytes("r.xml", XML), "r.zip", "application", "zip"),
        "g.eml": email_with_attachment(gzip.compress(XML), "r.xml.gz", "application", "gzip"),
        "x.eml": email_with_attachment(XML, "r.xml", "text", "xml"),
    }
    for name, data in wrapped.items():
        assert one(name, data).rows == plain.rows, name
        assert one(name, data).sha256 == plain.sha256, name


def test_an_mbox_gives_each_message_its_report() -> None:
    other = XML.replace(b"r-1", b"r-2")
    mbox = b"".join(b"From dmarc@example.com Mon Jan  1 00:00:00 2026\n" + email_with_attachment(gzip.compress(x), "a.xml.gz", "application", "gzip") + b"\n"
                    for x in (XML, other))
    reports = read("inbox.mbox", mbox)
    assert [r.report_id for r in reports if isinstance(r, Report)] == ["r-1", "r-2"]


def test_content_is_sniffed_not_named() -> None:
    assert [sniff(x) for x in (XML, gzip.compress(XML), zip_bytes("a", XML), b"From x\n", b"Subject: x\n\n", b"\x00\x01")] == \
        ["xml", "gzip", "zip", "mbox", "email", "unknown"]


# --- quirks warn, never refuse ---------------------------------------------------------------------------------


def test_quirks_are_warnings_of_that_report() -> None:
    xml = report_xml("example.com", QUIRKY, "q-1", 0, 3 * 86400, ("none", 100), ROWS)
    report = one("q.xml.gz", gzip.compress(gzip.compress(xml)))
    assert report.reporter == "dmarc@mail.example.net" and report.p == "none"
    assert report.rows[0].dkim_aligned and report.rows[0].disposition == "none"  # PASS/NONE read as pass/none
    assert report.warnings == (
        "gzip inside gzip (double gzip)",
        "empty org_name: the reporter is named by its email address",
        "the date range spans 72 h (RFC 7489 §7.2: at most 24 h)",
        "upper-case values: NONE, PASS, FAIL",
        "elements neither format defines, ignored: x_local_tag",
    )


def test_plain_xml_where_gzip_was_announced() -> None:
    assert one("r.xml.gz", XML).warnings == ("plain XML where the name announces gz",)


def test_a_bad_row_is_skipped_with_a_warning() -> None:
    report = one("r.xml", XML.replace(b"<source_ip>192.0.2.10</source_ip>", b"<source_ip>not-an-ip</source_ip>"))
    assert len(report.rows) == 1
    assert report.warnings == ("1 record(s) skipped (source_ip 'not-an-ip' is not an IP address)",)


# --- refused ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html><body>hi</body></html>", "the root element is <html>, not <feedback>: not a DMARC aggregate report"),
        (b"<feedback><report_metadata><org_name>x</org_name></report_metadata></feedback>",
         "missing report_metadata/report_id, report_metadata/date_range, policy_published/domain: not a DMARC aggregate report"),
        (XML[:-40], "the XML does not parse: unclosed token: line 3"),
        (XML.replace(b"<begin>1700000000</begin>", b"<begin>soon</begin>"),
         "date_range/begin 'soon' is not a time in seconds since 1970"),
        (b"<?xml version='1.0'?>", "the XML has no root element"),
    ],
)
def test_meaningless_reports_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    assert refusal("r.xml", data).startswith(reason)


def test_an_entity_bomb_is_refused_at_its_doctype_quickly() -> None:
    bomb = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    bomb += b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    bomb += b"]>\n<feedback>&lol9;</feedback>\n"
    started = time.monotonic()
    assert refusal("bomb.xml", bomb).startswith("the XML declares a DTD or entities (DTDForbidden)")
    assert time.monotonic() - started < 1


def test_an_undeclared_entity_is_a_parse_error() -> None:
    assert refusal("r.xml", XML.replace(b"<org_name>Yahoo", b"<org_name>&lol;")).startswith("the XML does not parse: undefined entity")


def test_a_truncated_gzip_is_refused_by_name() -> None:
    assert refusal("r.xml.gz", gzip.compress(XML * 1)[:-12]) == "truncated gzip: the compressed stream ends before its end marker"


def test_triple_gzip_is_refused() -> None:
    assert refusal("r.gz", gzip.compress(gzip.compress(gzip.compress(XML)))) == "more than 2 layers of gzip"


def _zip_bomb(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("bomb.xml", "w", force_zip64=True) as member:
        member.write(b"<feedback>")
        chunk = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            member.write(chunk)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_quickly_with_bounded_memory() -> None:
    bomb = _zip_bomb(160 << 20)  # 160 MiB inflated from well under 1 MiB
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    started = time.monotonic()
    try:
        reason = refusal("bomb.zip", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason == f"{(160 << 20) + 10} bytes once decompressed, over the cap of {128 << 20} (a zip bomb?)"
    assert time.monotonic() - started < 2 and peak < 8 << 20


def test_a_zip_member_that_lies_about_its_size_inflates_no_further_than_it_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _zip_bomb(8 << 20)
    infolist = zipfile.ZipFile.infolist

    def lying(self: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
        infos = infolist(self)
        for info in infos:
            info.file_size = 100  # what a crafted central directory would claim
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying)
    tracemalloc.start()
    try:
        reason = refusal("lying.zip", bomb, max_xml=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason.startswith("the zip member cannot be read: Bad CRC-32") and peak < 4 << 20


def test_a_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"<feedback>" + b" " * (4 << 20))
    [payload] = reports_in("bomb.xml.gz", bomb, max_xml=1 << 20)
    assert isinstance(payload, Payload)
    with pytest.raises(PayloadError, match="more than 1048576 bytes once decompressed"):
        parse_report(payload.open())


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("e.eml", b"Subject: hello\n\nno attachment here\n", "an email without a report attached (no zip, gzip or XML part)"),
        ("x.bin", b"\x00\x01\x02", "neither XML, gzip, zip nor an email with a report attached"),
        ("x.zip", b"PK\x03\x04broken", "the zip cannot be read: File is not a zip file"),
        ("x.xml", b"", "empty"),
    ],
)
def test_inputs_without_a_report_are_refused(name: str, data: bytes, reason: str) -> None:
    assert refusal(name, data) == reason


def test_deep_nesting_is_no_crash() -> None:
    depth = 200_000
    xml = b"<feedback><record>" + b"<a>" * depth + b"</a>" * depth + b"</record></feedback>"
    started = time.monotonic()
    assert refusal("deep.xml", xml).startswith("missing report_metadata/report_id")
    email = b"Content-Type: multipart/mixed; boundary=b0\n\n" + b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(5000))
    assert refusal("deep.eml", email).startswith("the email cannot be read: maximum recursion depth exceeded")
    assert time.monotonic() - started < 5
