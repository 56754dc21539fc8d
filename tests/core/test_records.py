"""Record values: canonical TXT splitting and quoting, and checks on construction."""

import pytest

from sending_domain.core.records import Record, containing_zone, quote_txt, split_txt


@pytest.mark.parametrize(("text", "sizes"), [
    ("", [0]),
    ("a" * 255, [255]),
    ("a" * 256, [255, 1]),
    ("v=spf1 " + " ".join(["ip4:192.0.2.0/24"] * 30), [245, 255, 16]),
    ("é" * 200, [127, 73]),  # never splits a two-octet character
])
def test_split_txt_keeps_strings_within_255_octets(text: str, sizes: list[int]) -> None:
    parts = split_txt(text)
    assert "".join(parts) == text
    assert [len(p) for p in parts] == sizes
    assert all(len(p.encode()) <= 255 for p in parts)


def test_split_breaks_after_a_space_near_the_cut_only() -> None:
    spf = "v=spf1 " + " ".join(["ip4:192.0.2.0/24"] * 30)
    parts = split_txt(spf)
    assert all(a.endswith(" ") or b.startswith(" ") for a, b in zip(parts, parts[1:]))  # no term is cut
    dkim = "v=DKIM1; k=rsa; p=" + "A" * 392
    assert [len(p) for p in split_txt(dkim)] == [255, 155]


def test_quote_txt_escapes_and_joins_with_one_space() -> None:
    assert quote_txt(("a\"b", "c\\d")) == '"a\\"b" "c\\\\d"'


def test_record_content_and_zone_line() -> None:
    txt = Record.txt("Example.COM.", "v=spf1 -all", 300)
    assert (txt.name, txt.content, txt.zone_line()) == ("example.com", '"v=spf1 -all"', 'example.com. 300 IN TXT "v=spf1 -all"')
    mx = Record.mx("bounce.example.com", "feedback-smtp.eu-west-1.amazonses.com.", 10)
    assert mx.content == "feedback-smtp.eu-west-1.amazonses.com"
    assert mx.zone_line() == "bounce.example.com. 300 IN MX 10 feedback-smtp.eu-west-1.amazonses.com."


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"name": "bad name", "type": "TXT", "data": ("x",)}, "invalid record name 'bad name'"),
    ({"name": "a.example", "type": "A", "data": ("x",)}, "unsupported record type 'A' at a.example"),
    ({"name": "a.example", "type": "TXT", "data": ("x" * 256,)}, "TXT string over 255 octets at a.example"),
    ({"name": "a.example", "type": "MX", "data": ("mx.example",)}, "MX record at a.example needs a priority 0..65535"),
    ({"name": "a.example", "type": "TXT", "data": ()}, "TXT record at a.example needs data"),
])
def test_record_checks_its_input(kwargs: dict, reason: str) -> None:
    with pytest.raises(ValueError) as err:
        Record(**kwargs)
    assert str(err.value) == reason


@pytest.mark.parametrize(("name", "zone"), [
    ("reports.example.net", "example.net"),
    ("A.Reports.Example.NET.", "example.net"),
    ("x.sub.example.net", "sub.example.net"),  # the most specific zone wins
    ("example.org", None),
    ("notexample.net", None),
])
def test_containing_zone(name: str, zone: str | None) -> None:
    assert containing_zone(name, {"example.net", "sub.example.net", "example.com"}) == zone
