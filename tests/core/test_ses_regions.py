"""The SES region list is botocore's bundled endpoint data for sesv2 (offline), and a wrong region is refused."""

from __future__ import annotations

import botocore.session
import pytest

from sending_domain.core.errors import ConfigError
from sending_domain.core.ses_regions import SES_REGIONS, unknown_ses_region_reason


def test_the_list_is_botocores() -> None:
    session = botocore.session.get_session()  # reads the endpoint data bundled with botocore: no network
    known = {r for partition in ("aws", "aws-us-gov", "aws-cn") for r in session.get_available_regions("sesv2", partition_name=partition)}
    assert SES_REGIONS == known


@pytest.mark.parametrize(("region", "words"), [
    ("eu-westt-1", "did you mean 'eu-west-1'?"),
    ("us-east-9", "did you mean 'us-east-"),
    ("xx-nowhere-7", "not a region where Amazon SES runs"),
])
def test_a_region_that_does_not_exist_is_refused(region: str, words: str) -> None:
    reason = unknown_ses_region_reason(region)
    assert reason is not None and words in reason


def test_the_stack_loader_refuses_it_with_the_key_path() -> None:
    from sending_domain.core.config import parse_settings

    raw = {"domains": [{"domain": "example.com", "zone": "example.com", "senders": [], "dmarc": {"p": "none"},
                        "dkim": {"keys": [{"selector": "s1", "state": "active"}]},
                        "ses": {"region": "eu-westt-1", "mailFrom": "bounce"}}]}
    with pytest.raises(ConfigError) as info:
        parse_settings(raw)
    assert [(p.path, p.code) for p in info.value.problems] == [("domains[0].ses.region", "ses-region")]
    assert "did you mean 'eu-west-1'?" in info.value.problems[0].message
