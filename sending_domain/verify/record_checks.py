"""DKIM, DMARC, MAIL FROM and alignment checks: live records against the stack (pure).

- ``dkim.<selector>``          — one key record that parses (RFC 6376 §3.6.1), with the stack's key type,
  size and (when ``--outputs`` names it) public key; a revoked key publishes an empty ``p=``.
- ``dmarc.record``             — one ``v=DMARC1`` record at ``_dmarc.<domain>`` (RFC 7489 §6.6.3).
- ``dmarc.policy``             — its tags equal the configured stage.
- ``dmarc.report-auth.<dest>`` — ``<domain>._report._dmarc.<dest>`` exists (RFC 7489 §7.1).
- ``mail-from.mx`` / ``mail-from.spf`` — the SES custom MAIL FROM records.
- ``reports.mx``               — the MX of the name receiving the stack's DMARC reports (``reports:``).
- ``alignment.spf`` / ``alignment.dkim`` — MAIL FROM and DKIM ``d=`` align with the From domain.
"""

from __future__ import annotations

from dataclasses import fields

from sending_domain.core import dkim, dmarc
from sending_domain.core.checks import CheckResult, errored, failed, passed, warned
from sending_domain.core.dnsdata import Answer
from sending_domain.core.errors import SpfSyntaxError
from sending_domain.core.render import SES_SPF, DesiredDomain, ses_feedback_host
from sending_domain.core.reports import inbound_smtp_host
from sending_domain.core.settings import DkimKeySettings, DomainSettings
from sending_domain.core.spf.terms import parse_record
from sending_domain.verify.observed import ObservedDns, Unanswered, external_report_names
from sending_domain.verify.orgdomain import aligned, organizational_domain
from sending_domain.verify.spf_checks import DEPLOY_HINT, spf_values

_BITS = {"rsa-2048": 2048, "rsa-1024": 1024}


# --- DKIM ---------------------------------------------------------------------------------------------


def dkim_checks(desired: DesiredDomain, settings: DomainSettings, observed: ObservedDns) -> list[CheckResult]:
    wanted = {r.record.name: r.record.value for r in desired.records if r.purpose == "dkim"}
    out = []
    for key in settings.dkim:
        name = dkim.dkim_record_name(key.selector, settings.domain)
        out.append(check_dkim(key, name, wanted.get(name), observed.get(name, "TXT")))
    return out


def check_dkim(key: DkimKeySettings, name: str, wanted_value: str | None, answer: Answer | Unanswered) -> CheckResult:
    """One selector. ``wanted_value`` is the record the stack renders, None when its public key is unknown."""
    check = f"dkim.{key.selector}"
    if isinstance(answer, Unanswered):
        return errored(check, f"TXT {name}: {answer.reason}")
    if not answer.values:
        return failed(check, f"no key record at {name} (the stack has it {key.state})", f"publish it; {DEPLOY_HINT}")
    if len(answer.values) > 1:
        return failed(check, f"{len(answer.values)} TXT records at {name}; verifiers may read either", "delete the one the stack does not manage")
    try:
        live = dkim.parse_dkim_value(answer.values[0])
    except ValueError as e:
        return failed(check, f"{name} does not parse: {e}", f"republish the stack's record; {DEPLOY_HINT}")
    return _compare_key(check, key, name, live, wanted_value)


def _compare_key(check: str, key: DkimKeySettings, name: str, live: dkim.DkimKeyRecord, wanted_value: str | None) -> CheckResult:
    if dkim.is_revoked(key.state):
        if live.revoked:
            return passed(check, f"revoked: {name} publishes an empty p=")
        return failed(check, f"{name} still publishes a key the stack has revoked", f"publish an empty p= (RFC 6376 §3.6.1); {DEPLOY_HINT}")
    if live.revoked:
        return failed(check, f"{name} publishes an empty p= (revoked) but the key is {key.state}", DEPLOY_HINT)
    want_k = dkim.key_type(key.algorithm)
    if live.key_type != want_k:
        return failed(check, f"{name} has k={live.key_type}, the stack's key is {key.algorithm}", DEPLOY_HINT)
    want_bits = _BITS.get(key.algorithm)
    if want_bits is not None and live.bits != want_bits:
        return failed(check, f"{name} holds a {live.bits}-bit RSA key, the stack's key is {key.algorithm}", DEPLOY_HINT)
    what = f"{key.algorithm}" + (f" ({live.bits} bits)" if live.bits else "") + f", {key.state}"
    if wanted_value is None:
        return warned(
            check,
            f"{what}; the public key was not compared",
            "pass --outputs FILE (from `pulumi stack output --json`) to compare it with the stack's key",
        )
    if dkim.record_public_key(wanted_value) != live.public_b64:
        return failed(check, f"{name} publishes another key than the stack's (stale after a key change?)", DEPLOY_HINT)
    return passed(check, f"{what}; the stack's key")


# --- DMARC --------------------------------------------------------------------------------------------


def dmarc_checks(desired: DesiredDomain, settings: DomainSettings, observed: ObservedDns) -> list[CheckResult]:
    name = dmarc.dmarc_record_name(settings.domain)
    record = check_dmarc_record(name, observed.get(name, "TXT"))
    out = [record[0]]
    if record[1] is not None:
        out.append(check_dmarc_policy(name, record[1], desired.dmarc_policy))
    out += report_auth_checks(desired, settings, observed)
    return out


def dmarc_values(answer: Answer) -> list[str]:
    """RFC 7489 §6.6.3: TXT records that do not start with ``v=DMARC1`` are ignored."""
    return [v for v in answer.values if v.replace(" ", "").upper().startswith("V=DMARC1")]


def check_dmarc_record(name: str, answer: Answer | Unanswered) -> tuple[CheckResult, dict[str, str] | None]:
    check = "dmarc.record"
    if isinstance(answer, Unanswered):
        return errored(check, f"TXT {name}: {answer.reason}"), None
    records = dmarc_values(answer)
    if not records:
        return failed(check, f"no v=DMARC1 record at {name}", f"publish it; {DEPLOY_HINT}"), None
    if len(records) > 1:
        return failed(
            check, f"{len(records)} DMARC records at {name}; receivers then apply no policy (RFC 7489 §6.6.3)",
            "delete the record the stack does not manage",
        ), None
    try:
        tags = dmarc.parse_dmarc_value(records[0])
    except ValueError as e:
        return failed(check, f"{name} does not parse: {e}", DEPLOY_HINT), None
    return passed(check, f"one DMARC record at {name}"), tags


def check_dmarc_policy(name: str, live_tags: dict[str, str], wanted: dmarc.DmarcPolicy) -> CheckResult:
    check = "dmarc.policy"
    try:
        live = dmarc.policy_from_tags(live_tags)
    except ValueError as e:
        return failed(check, f"{name}: {e}", DEPLOY_HINT)
    diffs = [f"{f.name}={_tag(getattr(live, f.name))} (stack: {_tag(getattr(wanted, f.name))})" for f in fields(wanted) if getattr(live, f.name) != getattr(wanted, f.name)]
    want_t = "y" if wanted.pct != 100 else None
    live_t = live_tags.get("t", "").lower() or None
    if live_t != want_t and not (live_t == "n" and want_t is None):
        diffs.append(f"t={live_t or '-'} (stack: {want_t or '-'})")
    if diffs:
        stronger = live.stage > wanted.stage
        hint = (
            "the live policy enforces more than the stack's stage; deploy the stack or raise its stage"
            if stronger
            else f"publish the configured stage ({wanted.stage}); {DEPLOY_HINT}"
        )
        return failed(check, f"live stage {live.stage} differs: " + ", ".join(diffs), hint)
    return passed(check, f"stage {wanted.stage}, tags as configured")


def _tag(value: object) -> str:
    if value is None or value == ():
        return "-"
    return ",".join(value) if isinstance(value, tuple) else str(value)


def report_auth_checks(desired: DesiredDomain, settings: DomainSettings, observed: ObservedDns) -> list[CheckResult]:
    ours = [r.record.name for r in desired.records if r.purpose == "dmarc-report-auth"]
    out = [_report_auth(name, observed.get(name, "TXT"), ours=True) for name in ours]
    out += [_report_auth(name, observed.get(name, "TXT"), ours=False) for name in external_report_names(settings.domain, desired.dmarc_policy) if name not in ours]
    return out


def _report_auth(name: str, answer: Answer | Unanswered, *, ours: bool) -> CheckResult:
    destination = name.split("._report._dmarc.", 1)[1]
    check = f"dmarc.report-auth.{destination}"
    if isinstance(answer, Unanswered):
        return errored(check, f"TXT {name}: {answer.reason}")
    if dmarc_values(answer):
        return passed(check, f"{destination} accepts our DMARC reports ({name})")
    detail = f'no {name} TXT "v=DMARC1": receivers drop the reports to {destination} (RFC 7489 §7.1)'
    if ours:
        return failed(check, detail, DEPLOY_HINT)
    return warned(check, detail, f"{destination} is not one of our zones: ask its owner to publish the record")


# --- MAIL FROM ----------------------------------------------------------------------------------------


def mail_from_checks(settings: DomainSettings, observed: ObservedDns) -> list[CheckResult]:
    if settings.ses is None:
        return []
    host, region = settings.ses.mail_from, settings.ses.region
    return [check_mail_from_mx(host, region, observed.get(host, "MX")), check_mail_from_spf(host, observed.get(host, "TXT"))]


def check_mail_from_mx(host: str, region: str, answer: Answer | Unanswered) -> CheckResult:
    return _one_mx("mail-from.mx", host, ses_feedback_host(region), answer,
                   missing="SES falls back to amazonses.com and SPF cannot align", where=f"the identity is in {region}")


def reports_checks(settings: DomainSettings, observed: ObservedDns) -> list[CheckResult]:
    """The MX of the name receiving the stack's DMARC reports, on the domain that publishes it."""
    reports = settings.reports_mx
    if reports is None:
        return []
    return [check_reports_mx(reports.domain, reports.region, observed.get(reports.domain, "MX"))]


def check_reports_mx(host: str, region: str, answer: Answer | Unanswered) -> CheckResult:
    return _one_mx("reports.mx", host, inbound_smtp_host(region), answer,
                   missing="DMARC reports to it cannot be delivered", where=f"reports are received in {region}")


def _one_mx(check: str, host: str, want: str, answer: Answer | Unanswered, *, missing: str, where: str) -> CheckResult:
    """Exactly one ``MX 10 want`` at ``host``, as SES documents it."""
    hint = f"publish exactly one MX 10 {want} at {host}; {DEPLOY_HINT}"
    if isinstance(answer, Unanswered):
        return errored(check, f"MX {host}: {answer.reason}")
    if not answer.values:
        return failed(check, f"no MX at {host}; {missing}", hint)
    if len(answer.values) > 1:
        return failed(check, f"{len(answer.values)} MX records at {host} ({', '.join(answer.values)}); SES wants exactly one", hint)
    preference, exchange = answer.values[0].split(" ", 1)
    if exchange != want:
        return failed(check, f"MX at {host} points to {exchange}, not {want} ({where})", hint)
    if preference != "10":
        return warned(check, f"MX {preference} {exchange} (SES documents preference 10)", hint)
    return passed(check, f"MX 10 {want}")


def check_mail_from_spf(host: str, answer: Answer | Unanswered) -> CheckResult:
    check = "mail-from.spf"
    hint = f'publish TXT "{SES_SPF}" at {host}; {DEPLOY_HINT}'
    if isinstance(answer, Unanswered):
        return errored(check, f"TXT {host}: {answer.reason}")
    records = spf_values(answer)
    if len(records) != 1:
        what = "no" if not records else f"{len(records)}"
        return failed(check, f"{what} v=spf1 records at {host}", hint)
    try:
        record = parse_record(records[0], host)
    except SpfSyntaxError as e:
        return failed(check, str(e), hint)
    if not any(m.kind == "include" and m.domain == "amazonses.com" and m.qualifier == "+" for m in record.mechanisms):
        return failed(check, f"the SPF record at {host} does not include amazonses.com", hint)
    return passed(check, f"{host} includes amazonses.com")


# --- alignment ----------------------------------------------------------------------------------------


def alignment_checks(settings: DomainSettings, wanted: dmarc.DmarcPolicy, live_dmarc: dict[str, str] | None) -> list[CheckResult]:
    """DMARC alignment (RFC 7489 §3.1) under the live record's aspf/adkim, or the stack's (``wanted``) when it has none."""
    policy, source = wanted, "stack"
    if live_dmarc is not None:
        try:
            policy, source = dmarc.policy_from_tags(live_dmarc), "live"
        except ValueError:
            pass
    domain = settings.domain
    out = []
    if settings.ses is not None:
        out.append(_align("alignment.spf", "MAIL FROM", settings.ses.mail_from, domain, policy.aspf, source, "aspf"))
    if settings.active_dkim_key is not None:
        out.append(_align("alignment.dkim", "DKIM d=", domain, domain, policy.adkim, source, "adkim"))
    elif settings.dkim or settings.ses is not None:
        out.append(failed("alignment.dkim", "no active RSA key: SES signs only with d=amazonses.com, which does not align", "make one RSA key active"))
    return _either_suffices(out)


def _either_suffices(results: list[CheckResult]) -> list[CheckResult]:
    """DMARC passes when SPF *or* DKIM passes aligned (RFC 7489 §4.2): one misaligned identifier is a warning."""
    if len(results) == 2 and any(r.status == "pass" for r in results):
        return [r if r.status == "pass" else warned(r.name, r.detail, f"{r.hint} (DMARC still passes through the other identifier)") for r in results]
    return results


def _align(check: str, what: str, identifier: str, domain: str, mode: str, source: str, tag: str) -> CheckResult:
    word = "strict" if mode == "s" else "relaxed"
    if aligned(identifier, domain, mode):
        return passed(check, f"{what} {identifier} aligns with From {domain} ({word}, {tag} from the {source} record)")
    if mode == "s" and organizational_domain(identifier) == organizational_domain(domain):
        hint = f"{tag}=s needs {identifier} == {domain}; set {tag}: r in the stack's dmarc settings"
    else:
        hint = f"use a MAIL FROM under {domain}" if tag == "aspf" else f"sign with d={domain}"
    return failed(check, f"{what} {identifier} does not align with From {domain} ({word}, {tag} from the {source} record)", hint)
