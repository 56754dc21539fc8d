"""International domain names are taken and published in their A-label form, on the command line and in stacks."""

from __future__ import annotations

import pytest

from sending_domain.core.config import parse_settings
from sending_domain.core.errors import ConfigError
from sending_domain.core.idn import to_a_label


@pytest.mark.parametrize(("name", "a_label"), [
    ("bücher.example", "xn--bcher-kva.example"),
    ("Bücher.Example.", "xn--bcher-kva.example"),  # UTS #46 folds case
    ("ＥＸＡＭＰＬＥ.com", "example.com"),  # and width
    ("example.com", "example.com"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
])
def test_a_labels(name: str, a_label: str) -> None:
    assert to_a_label(name) == a_label


def test_not_a_name() -> None:
    assert to_a_label("bad_ü!.example") is None


def _stack(domain: str, zone: str) -> dict:
    return {"domains": [{"domain": domain, "zone": zone, "senders": [], "dmarc": {"p": "none"}}]}


def test_a_stack_takes_an_international_domain_and_publishes_its_a_label() -> None:
    settings = parse_settings(_stack("news.bücher.example", "bücher.example"))
    assert (settings.domains[0].domain, settings.domains[0].zone_name) == ("news.xn--bcher-kva.example", "xn--bcher-kva.example")


def test_a_name_that_is_not_one_is_still_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(_stack("bad_ü!.example", "example"))
    assert [p.code for p in info.value.problems][0] == "hostname"


def test_the_command_line_converts_too() -> None:
    from sending_domain.cli.common import domain_argument

    assert domain_argument("Bücher.example") == "xn--bcher-kva.example"
    with pytest.raises(ConfigError):
        domain_argument("bad_ü!.example")
