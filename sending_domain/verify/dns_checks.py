"""Every DNS check of one domain, in report order (pure): SPF, DKIM, DMARC, MAIL FROM, the reports MX, alignment."""

from __future__ import annotations

from sending_domain.core.checks import CheckResult
from sending_domain.core.dmarc import dmarc_record_name
from sending_domain.core.render import DesiredDomain
from sending_domain.core.settings import DomainSettings
from sending_domain.verify.observed import ObservedDns
from sending_domain.verify.record_checks import (
    alignment_checks,
    check_dmarc_record,
    dkim_checks,
    dmarc_checks,
    mail_from_checks,
    reports_checks,
)
from sending_domain.verify.spf_checks import spf_checks


def dns_checks(desired: DesiredDomain, settings: DomainSettings, observed: ObservedDns) -> list[CheckResult]:
    name = dmarc_record_name(settings.domain)
    _, live_dmarc = check_dmarc_record(name, observed.get(name, "TXT"))
    return [
        *spf_checks(desired, settings, observed),
        *dkim_checks(desired, settings, observed),
        *dmarc_checks(desired, settings, observed),
        *mail_from_checks(settings, observed),
        *reports_checks(settings, observed),
        *alignment_checks(settings, desired.dmarc_policy, live_dmarc),
    ]
