"""The AWS regions where Amazon SES (the ``sesv2`` API) runs, so a stack cannot name one that does not exist.

A pattern is not enough: ``eu-westt-1`` looks like a region and would publish
``feedback-smtp.eu-westt-1.amazonses.com``. The list is botocore's bundled endpoint data for ``sesv2`` (the
``aws``, ``aws-us-gov`` and ``aws-cn`` partitions), written out here so the core reads no package data and
needs no AWS library; ``tests/core/test_ses_regions.py`` checks it against the installed botocore, offline, so
an upgrade that adds a region shows up as a failing test to update this list.
"""

from __future__ import annotations

import difflib

SES_REGIONS = frozenset(
    {
    "af-south-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6",
    "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
    "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
    "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-west-1",
    "us-west-2",
    }
)  # fmt: skip


def unknown_ses_region_reason(region: str) -> str | None:
    """Why ``region`` is not an SES region (with the nearest one as a suggestion), or None when it is one."""
    if region in SES_REGIONS:
        return None
    near = difflib.get_close_matches(region, sorted(SES_REGIONS), n=1, cutoff=0.8)
    hint = f"; did you mean '{near[0]}'?" if near else "; see the SES regions in the AWS documentation"
    return f"'{region}' is not a region where Amazon SES runs{hint}"
