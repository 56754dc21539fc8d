"""Who may send for a domain: well-known sender names and the raw SPF terms a stack may list.

A stack lists its senders as well-known names (``amazonses``) or raw SPF mechanisms
(``ip4:192.0.2.0/24``). :func:`spf_term` maps each to the term that goes into the record, and
:func:`sender_reason` says why a sender is unusable, or returns ``None``.

The includes below are each vendor's published SPF include (checked against the vendors' setup
guides; the SPF lock pins what they resolve to):

- amazonses — Amazon SES developer guide, "Authenticating email with SPF": ``include:amazonses.com``
- google-workspace — Google Workspace Admin Help, "Set up SPF": ``include:_spf.google.com``
- microsoft365 — Microsoft Learn, "Set up SPF to identify valid email sources":
  ``include:spf.protection.outlook.com``
- sendgrid — Twilio SendGrid docs, "SPF records explained": ``include:sendgrid.net``
- mailgun — Mailgun docs, "Domain verification setup": ``include:mailgun.org``
- postmark — Postmark support, "SPF": ``include:spf.mtasv.net``
- mailchimp — Mailchimp help, "Set up email domain authentication": ``include:servers.mcsv.net``
- mandrill — Mailchimp Transactional (Mandrill) docs, "SPF and DKIM": ``include:spf.mandrillapp.com``
- zendesk — Zendesk help, "Allowing Zendesk to send email on behalf of your email domain":
  ``include:mail.zendesk.com``
- salesforce — Salesforce help, "Email Security Compliance": ``include:_spf.salesforce.com``
- sparkpost — SparkPost (Bird) docs, "Sending domain SPF": ``include:sparkpostmail.com``
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType

from sending_domain.core.records import is_hostname, normalize_name

WELL_KNOWN_SENDERS: Mapping[str, str] = MappingProxyType(
    {
        "amazonses": "amazonses.com",
        "google-workspace": "_spf.google.com",
        "microsoft365": "spf.protection.outlook.com",
        "sendgrid": "sendgrid.net",
        "mailgun": "mailgun.org",
        "postmark": "spf.mtasv.net",
        "mailchimp": "servers.mcsv.net",
        "mandrill": "spf.mandrillapp.com",
        "zendesk": "mail.zendesk.com",
        "salesforce": "_spf.salesforce.com",
        "sparkpost": "sparkpostmail.com",
    }
)

# RFC 7208 §5.3/§5.4: a[:domain][/ip4-cidr][//ip6-cidr], the same for mx.
_HOST_TERM = re.compile(r"^(?P<mech>a|mx)(?::(?P<domain>[^/]+))?(?:/(?P<v4>\d{1,2}))?(?://(?P<v6>\d{1,3}))?$")
# Shorter prefixes authorize a large part of the Internet, like +all. The SPF flattener applies the same
# floor to what vendors' trees authorize (core/spf/floor.py).
MIN_PREFIX: Mapping[int, int] = MappingProxyType({4: 8, 6: 16})
_MIN_PREFIX = MIN_PREFIX
_UNSUPPORTED = {
    "ptr": "ptr is deprecated and slow (RFC 7208 §5.5); list the addresses with ip4:/ip6:",
    "exists": "exists: needs macros; include a record that contains it with include:",
    "redirect": "redirect= replaces the whole policy; list the target with include: instead",
    "all": "the all term is set by spf.all, not in senders",
}


def spf_term(sender: str) -> str:
    """The SPF term for a sender: ``include:<vendor>`` for a well-known name, else the raw term lower-cased."""
    name = sender.strip().lower()
    if name in WELL_KNOWN_SENDERS:
        return f"include:{WELL_KNOWN_SENDERS[name]}"
    if name.startswith("include:"):
        return "include:" + normalize_name(name[len("include:") :])
    match = _HOST_TERM.match(name)
    if match and match["domain"]:
        return name.replace(match["domain"], normalize_name(match["domain"]), 1)
    return name


@functools.lru_cache(maxsize=1024)
def sender_reason(sender: str) -> str | None:
    """Why ``sender`` cannot be used as an SPF term, or ``None`` when it can.

    Remembered for the last 1,024 senders: a large stack lists the same few senders for thousands of domains,
    and parsing a network (``ip4:192.0.2.0/24``) costs more than the rest of a domain's checks.
    """
    term = sender.strip().lower()
    if not term:
        return "a sender must not be empty"
    if term in WELL_KNOWN_SENDERS:
        return None
    mech = re.split(r"[:=/]", term, maxsplit=1)[0]
    if term[0] in "+-~?":
        return "list senders without a qualifier; the record decides pass/fail through spf.all"
    if mech in _UNSUPPORTED:
        return _UNSUPPORTED[mech]
    if "%" in term:
        return "macros are not supported in senders; include a record that uses them with include:"
    if mech in ("ip4", "ip6") and term.startswith(mech + ":"):
        return _network_reason(term[4:], int(mech[-1]))
    if mech == "include" and term.startswith("include:"):
        return _domain_reason(term[len("include:") :])
    if _HOST_TERM.match(term):
        return _host_term_reason(term)
    return _unknown_reason(term)


def _network_reason(text: str, version: int) -> str | None:
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return _network_value_reason(text, version)
    if network.version != version:
        return f"{text} is an IPv{network.version} address; write ip{network.version}:{text}"
    if network.prefixlen < _MIN_PREFIX[version]:
        return f"/{network.prefixlen} authorizes too many addresses; use a prefix of /{_MIN_PREFIX[version]} or longer"
    return None


def _network_value_reason(text: str, version: int) -> str:
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        example = "192.0.2.0/24" if version == 4 else "2001:db8::/32"
        return f"ip{version}:{text} is not an IPv{version} address or network such as {example}"
    return f"ip{version}:{text} has host bits set; did you mean ip{version}:{loose}?"


def _domain_reason(domain: str) -> str | None:
    if not domain or not is_hostname(domain) or "." not in normalize_name(domain):
        return f"{domain or '(empty)'} is not a valid domain name"
    return None


def _host_term_reason(term: str) -> str | None:
    match = _HOST_TERM.match(term)
    assert match is not None
    if match["domain"] is not None and (reason := _domain_reason(match["domain"])):
        return reason
    if match["v4"] is not None and not 0 <= int(match["v4"]) <= 32:
        return f"/{match['v4']} is not an IPv4 prefix length (0..32)"
    if match["v6"] is not None and not 0 <= int(match["v6"]) <= 128:
        return f"//{match['v6']} is not an IPv6 prefix length (0..128)"
    return None


def _unknown_reason(term: str) -> str:
    close = difflib.get_close_matches(term, WELL_KNOWN_SENDERS, n=1)
    hint = f"did you mean '{close[0]}'? Otherwise use" if close else "use"
    known = ", ".join(WELL_KNOWN_SENDERS)
    return (
        f"unknown sender '{term}'; {hint} a well-known name ({known}) "
        "or a raw term ip4:, ip6:, include:, a[:domain], mx[:domain]"
    )
