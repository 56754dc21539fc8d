"""The Pulumi program under mocks: what it declares for a small stack, and what it refuses to declare.

``components.program.run`` is called directly with a lock file written here and a resolver factory, so the
tests need neither the environment nor the network; one test asks a real DNS server on loopback instead of
the lock. ``ProgramMocks`` (tests/components/mocks.py) gives each ``DkimKey`` the outputs of a real key.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.program import SOURCE, run
from sending_domain.core import dkim
from sending_domain.core.config import parse_settings
from sending_domain.core.dnsdata import Answer
from sending_domain.core.render import DesiredDomain
from sending_domain.core.spf.lock import LockEntry, SpfLock
from sending_domain.desired import desired_domains, read_lock, run_sync
from sending_domain.dns.resolver import AsyncResolver
from tests.components import mocks as m

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_COM_ZONE_ID = "0123456789abcdef0123456789abcdef"
VENDOR_SPF = "v=spf1 ip4:198.51.100.0/24 -all"
SES_SPF = "v=spf1 ip4:203.0.113.0/24 ~all"

SETTINGS: dict[str, Any] = {
    "defaults": {"ttl": 300},
    "domains": [
        {
            "domain": "example.com",
            "zoneId": EXAMPLE_COM_ZONE_ID,
            "ttl": 3600,
            "senders": ["amazonses", "ip4:192.0.2.0/24"],
            "dkim": {
                "keys": [
                    {"selector": "s2026a", "algorithm": "rsa-2048", "state": "active"},
                    {"selector": "s2026b", "algorithm": "rsa-1024", "state": "pending"},
                    {"selector": "ed2026a", "algorithm": "ed25519", "state": "pending"},
                    {"selector": "s2025", "algorithm": "rsa-1024", "state": "revoked"},
                ]
            },
            "dmarc": {"p": "quarantine", "pct": 25, "rua": ["mailto:dmarc@example.com", "mailto:ex@reports.example.org"]},
            "ses": {"region": "eu-west-1", "mailFrom": "bounce", "behaviorOnMxFailure": "REJECT_MESSAGE"},
        },
        {
            "domain": "news.example.org",
            "zone": "example.org",
            "senders": ["include:_spf.vendor.example"],
            "spf": {"all": "-all"},
            "dmarc": {"p": "none", "rua": ["mailto:dmarc@example.com"]},
        },
    ],
}

ZONE_TEXT = f"""
$ORIGIN vendor.example.
_spf TXT "{VENDOR_SPF}"
$ORIGIN amazonses.com.
@ TXT "{SES_SPF}"
"""

EXAMPLE_COM = [
    (m.DKIM_KEY, "example.com-dkim-key-s2026a"),
    (m.DKIM_KEY, "example.com-dkim-key-s2026b"),
    (m.DKIM_KEY, "example.com-dkim-key-ed2026a"),
    (m.DKIM_KEY, "example.com-dkim-key-s2025"),
    (m.DMARC_STAGE, "example.com-dmarc-stage"),
    (m.DNS_RECORD, "example.com-spf"),
    (m.DNS_RECORD, "example.com-dkim-s2025"),
    (m.DNS_RECORD, "example.com-dmarc"),
    (m.DNS_RECORD, "example.com-dmarc-report-auth-reports.example.org"),
    (m.DNS_RECORD, "example.com-mail-from-mx"),
    (m.DNS_RECORD, "example.com-mail-from-spf"),
    (m.DNS_RECORD, "example.com-dkim-s2026a"),
    (m.DNS_RECORD, "example.com-dkim-s2026b"),
    (m.DNS_RECORD, "example.com-dkim-ed2026a"),
    (m.EMAIL_IDENTITY, "example.com-ses-identity"),
    (m.MAIL_FROM, "example.com-ses-mail-from"),
]
NEWS_EXAMPLE_ORG = [
    (m.DMARC_STAGE, "news.example.org-dmarc-stage"),
    (m.DNS_RECORD, "news.example.org-spf"),
    (m.DNS_RECORD, "news.example.org-dmarc"),
    (m.DNS_RECORD, "news.example.org-dmarc-report-auth-example.com"),
]


@functools.cache
def private_key(selector: str, algorithm: str) -> str:
    """One real key per selector for the whole session, so two runs see the same keys."""
    return dkim.generate_private_key_pem(algorithm)


def write_lock(directory: Path) -> Path:
    """The vendor lock for SETTINGS, as `sending-domain spf lock --update` would pin it."""
    entries = {
        "include:_spf.vendor.example": {("_spf.vendor.example", "TXT"): Answer("ok", (VENDOR_SPF,))},
        "include:amazonses.com": {("amazonses.com", "TXT"): Answer("ok", (SES_SPF,))},
    }
    lock = SpfLock({t: LockEntry(t, "2026-01-01T00:00:00+00:00", a) for t, a in entries.items()})
    path = directory / "spf.lock.json"
    path.write_text(lock.to_json(), encoding="utf-8")
    return path


def no_resolver() -> None:
    return None


def no_identity(region: str, domain: str) -> None:
    """SES has no identity yet (the tests never ask AWS)."""
    return None


class Deployment:
    """One run of the program under fresh mocks, with everything resolved."""

    def __init__(
        self,
        lock_file: Path,
        settings: Any = SETTINGS,
        resolver_factory: Callable[[], Any] = no_resolver,
        ses: Callable[[str, str], Any] = no_identity,
        evidence_file: Path | None = None,
        **mock_options: Any,
    ) -> None:
        self.mocks, self.monitor = m.install(private_key, **mock_options)
        self.outputs: dict[str, Any] = {}
        self.outputs_secret: bool | None = None

        @pulumi.runtime.test
        def deploy() -> pulumi.Output:
            self.components = run(
                copy.deepcopy(settings), lock_file=lock_file, evidence_file=evidence_file,
                resolver_factory=resolver_factory, live_identity=ses,
            )
            exported = pulumi.Output.from_input(m.stack_outputs())
            return pulumi.Output.all(exported, exported.is_secret()).apply(self._keep)

        deploy()

    def _keep(self, values: list[Any]) -> None:
        self.outputs, self.outputs_secret = values

    def component(self, domain: str) -> m.Registered:
        return self.monitor.named(domain, m.SENDING_DOMAIN)

    def inputs(self, name: str, type_: str | None = None) -> dict[str, Any]:
        return self.monitor.named(name, type_).inputs


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    return write_lock(tmp_path)


@pytest.fixture
def deployment(lock_file: Path) -> Deployment:
    return Deployment(lock_file)


def expected_render(lock_file: Path, deployment: Deployment) -> list[DesiredDomain]:
    """The core's own render of SETTINGS, with the public keys the deployment's DkimKeys hold."""
    stack = parse_settings(copy.deepcopy(SETTINGS))
    public = {(d, s): v for d, keys in deployment.outputs.items() for s, v in _public_keys(keys).items()}
    return run_sync(desired_domains(stack, lock=read_lock(lock_file), dkim_public=public))


def _public_keys(domain_outputs: dict[str, Any]) -> dict[str, str]:
    return {selector: entry["public_key"] for selector, entry in domain_outputs["dkim"].items()}


# --- what is declared -----------------------------------------------------------------------------------


def test_each_domain_declares_exactly_its_resources(deployment: Deployment) -> None:
    for domain, expected in (("example.com", EXAMPLE_COM), ("news.example.org", NEWS_EXAMPLE_ORG)):
        children = deployment.monitor.children(deployment.component(domain).urn)
        assert sorted((c.type, c.name) for c in children) == sorted(expected), domain
    top = [(r.type, r.name) for r in deployment.monitor.registered if r.parent == deployment.monitor.stack_urn]
    assert sorted(top) == sorted(
        [(m.AWS_PROVIDER, "aws-eu-west-1"), (m.SENDING_DOMAIN, "example.com"), (m.SENDING_DOMAIN, "news.example.org")]
    )
    assert len(deployment.monitor.registered) == len(EXAMPLE_COM) + len(NEWS_EXAMPLE_ORG) + 3


def test_every_child_is_parented_to_its_component(deployment: Deployment) -> None:
    components = {r.urn for r in deployment.monitor.of_type(m.SENDING_DOMAIN)}
    stack_urn = deployment.monitor.stack_urn
    for r in deployment.monitor.registered:
        if r.type in (m.SENDING_DOMAIN, m.AWS_PROVIDER):
            assert r.parent == stack_urn, r.name
        else:
            assert r.parent in components, r.name
            domain = r.parent.rsplit("::", 1)[1]
            assert r.name.startswith(f"{domain}-"), r.name
            assert r.urn.split("::")[2].startswith(f"{m.SENDING_DOMAIN}$"), r.urn


def test_dns_records_are_the_core_render(deployment: Deployment, lock_file: Path) -> None:
    zone_ids = {"example.org": m.zone_id("example.org")}  # example.com is given by id
    want: dict[str, dict[str, Any]] = {}
    for desired in expected_render(lock_file, deployment):
        assert not desired.pending  # every key is known: the same render as plan --outputs
        for item in desired.records:
            fields = {
                "zoneId": item.zone.id or zone_ids[item.zone.name or ""],
                "name": item.record.name,
                "type": item.record.type,
                "ttl": item.record.ttl,
                "content": item.record.content,
                "comment": "managed by sending-domain (stack test)",
            }
            if item.record.priority is not None:
                fields["priority"] = item.record.priority
            want[item.key] = fields
    got = {r.name: r.inputs for r in deployment.monitor.of_type(m.DNS_RECORD)}
    assert got == want


def test_record_contents_exactly(deployment: Deployment) -> None:
    def content(name: str) -> str:
        return deployment.inputs(name, m.DNS_RECORD)["content"]

    assert content("example.com-spf") == '"v=spf1 ip4:192.0.2.0/24 ip4:203.0.113.0/24 ~all"'
    assert content("news.example.org-spf") == '"v=spf1 ip4:198.51.100.0/24 -all"'
    assert content("example.com-dmarc") == (
        '"v=DMARC1; p=quarantine; pct=25; t=y; rua=mailto:dmarc@example.com,mailto:ex@reports.example.org"'
    )
    assert content("example.com-dkim-s2025") == '"v=DKIM1; k=rsa; p="'
    assert content("example.com-dmarc-report-auth-reports.example.org") == '"v=DMARC1"'
    assert deployment.inputs("example.com-dmarc-report-auth-reports.example.org")["zoneId"] == m.zone_id("example.org")
    assert deployment.inputs("news.example.org-dmarc-report-auth-example.com")["zoneId"] == EXAMPLE_COM_ZONE_ID
    mx = deployment.inputs("example.com-mail-from-mx")
    assert (mx["name"], mx["type"], mx["content"], mx["priority"], mx["ttl"]) == (
        "bounce.example.com", "MX", "feedback-smtp.eu-west-1.amazonses.com", 10, 3600
    )
    spf = deployment.inputs("example.com-mail-from-spf")
    assert (spf["name"], spf["content"]) == ("bounce.example.com", '"v=spf1 include:amazonses.com ~all"')


def test_dkim_records_publish_the_keys_the_dkim_resources_hold(deployment: Deployment) -> None:
    for selector, algorithm in (("s2026a", "rsa-2048"), ("s2026b", "rsa-1024"), ("ed2026a", "ed25519")):
        record = deployment.inputs(f"example.com-dkim-{selector}", m.DNS_RECORD)
        public = dkim.public_key_b64(private_key(selector, algorithm))
        text = "".join(re.findall(r'"([^"\\]*)"', record["content"]))  # base64 and tags: no escapes
        parsed = dkim.parse_dkim_value(text)
        assert (record["name"], parsed.public_b64, parsed.revoked) == (f"{selector}._domainkey.example.com", public, False)
        assert deployment.inputs(f"example.com-dkim-key-{selector}", m.DKIM_KEY)["algorithm"] == algorithm
    assert deployment.outputs["example.com"]["dkim"]["s2026a"]["public_key"] == dkim.public_key_b64(
        private_key("s2026a", "rsa-2048")
    )


def test_every_record_is_deleted_before_it_is_replaced(deployment: Deployment) -> None:
    records = deployment.monitor.of_type(m.DNS_RECORD)
    assert records and all(r.delete_before_replace for r in records)


def test_zones_are_looked_up_once_by_name(deployment: Deployment) -> None:
    zones = [call for call in deployment.mocks.calls if call[0] == m.GET_ZONE]
    assert zones == [(m.GET_ZONE, {"filter": {"name": "example.org", "match": "all"}})]


def test_the_preflight_asks_for_every_name_the_stack_publishes_once(deployment: Deployment) -> None:
    asked = [(call[1]["zoneId"], call[1]["name"]["exact"]) for call in deployment.mocks.calls if call[0] == m.GET_DNS_RECORDS]
    published = {(r.inputs["zoneId"], r.inputs["name"]) for r in deployment.monitor.of_type(m.DNS_RECORD)}
    assert sorted(asked) == sorted(published)
    assert all(call[1].get("match") == "all" and "type" not in call[1] for call in deployment.mocks.calls
               if call[0] == m.GET_DNS_RECORDS)  # every type: a CNAME in the way is seen too


def test_dmarc_stage_guards_the_dmarc_record(deployment: Deployment) -> None:
    stage = deployment.monitor.named("example.com-dmarc-stage")
    assert {k: stage.inputs[k] for k in ("domain", "p", "pct", "force")} == {
        "domain": "example.com", "p": "quarantine", "pct": 25, "force": False
    }
    assert stage.urn in deployment.monitor.named("example.com-dmarc").dependencies
    assert deployment.outputs["example.com"]["dmarc"]["stage"] == "p=quarantine pct=25"


def test_ses_signs_with_the_active_key_after_its_record_is_published(deployment: Deployment) -> None:
    identity = deployment.monitor.named("example.com-ses-identity")
    provider = deployment.monitor.named("aws-eu-west-1")
    assert provider.inputs["region"] == "eu-west-1"
    assert identity.provider == f"{provider.urn}::{provider.name}-id"
    assert identity.inputs["emailIdentity"] == "example.com"
    signing = m.unwrap(identity.inputs["dkimSigningAttributes"])
    assert signing == {
        "domainSigningSelector": "s2026a",
        "domainSigningPrivateKey": dkim.ses_private_key(private_key("s2026a", "rsa-2048")),
    }
    assert deployment.monitor.named("example.com-dkim-s2026a", m.DNS_RECORD).urn in identity.dependencies
    mail_from = deployment.monitor.named("example.com-ses-mail-from")
    assert mail_from.provider == identity.provider
    assert {k: mail_from.inputs[k] for k in ("emailIdentity", "mailFromDomain", "behaviorOnMxFailure")} == {
        "emailIdentity": "example.com", "mailFromDomain": "bounce.example.com", "behaviorOnMxFailure": "REJECT_MESSAGE"
    }
    for record in ("example.com-mail-from-mx", "example.com-mail-from-spf"):
        assert deployment.monitor.named(record).urn in mail_from.dependencies


# --- secrets ----------------------------------------------------------------------------------------------


def test_the_ses_private_key_is_a_secret_input(deployment: Deployment) -> None:
    identity = deployment.monitor.named("example.com-ses-identity")
    assert pulumi.runtime.rpc.is_rpc_secret(identity.inputs["dkimSigningAttributes"])


def test_no_private_key_in_any_plain_input_or_output(deployment: Deployment) -> None:
    secrets = []
    for selector, algorithm in (("s2026a", "rsa-2048"), ("s2026b", "rsa-1024"), ("ed2026a", "ed25519"), ("s2025", "rsa-1024")):
        # The ends of the encodings hold private parts only (RSA: the CRT values; ed25519: the seed); the
        # starts hold the modulus, which the public key shares.
        pem = private_key(selector, algorithm)
        body = "".join(pem.strip().splitlines()[1:-1])
        secrets += [pem, body, body[-40:]]
        if algorithm.startswith("rsa"):
            ses = dkim.ses_private_key(pem)
            secrets += [ses, ses[-40:]]
    plain = [s for r in deployment.monitor.registered for s in m.plain_strings(r.inputs)]
    plain += list(m.plain_strings(deployment.outputs))
    leaked = [s for s in secrets if any(s in text for text in plain)]
    assert leaked == []
    assert deployment.outputs_secret is False  # nothing secret is exported, so outputs stay readable


def test_stack_outputs_per_domain(deployment: Deployment) -> None:
    news = deployment.outputs["news.example.org"]
    assert news == {
        "records": [
            {"name": "_dmarc.news.example.org", "type": "TXT", "value": "v=DMARC1; p=none; rua=mailto:dmarc@example.com"},
            {"name": "news.example.org", "type": "TXT", "value": "v=spf1 ip4:198.51.100.0/24 -all"},
            {"name": "news.example.org._report._dmarc.example.com", "type": "TXT", "value": "v=DMARC1"},
        ],
        "dkim": {},
        "dmarc": {"value": "v=DMARC1; p=none; rua=mailto:dmarc@example.com", "stage": "p=none",
                  "step": {"force": False, "reason": None, "evidence": None}},
        "ses": None,
    }
    com = deployment.outputs["example.com"]
    assert com["ses"] == {
        "identity_arn": f"arn:aws:ses:eu-west-1:{m.ACCOUNT}:identity/example.com",
        "region": "eu-west-1",
        "mail_from": "bounce.example.com",
        "dkim_selector": "s2026a",
    }
    assert {s: (e["algorithm"], e["state"]) for s, e in com["dkim"].items()} == {
        "s2026a": ("rsa-2048", "active"), "s2026b": ("rsa-1024", "pending"),
        "ed2026a": ("ed25519", "pending"), "s2025": ("rsa-1024", "revoked"),
    }
    assert [(r["name"], r["type"]) for r in com["records"]] == [
        ("_dmarc.example.com", "TXT"),
        ("bounce.example.com", "MX"),
        ("bounce.example.com", "TXT"),
        ("ed2026a._domainkey.example.com", "TXT"),
        ("example.com", "TXT"),
        ("example.com._report._dmarc.reports.example.org", "TXT"),
        ("s2025._domainkey.example.com", "TXT"),
        ("s2026a._domainkey.example.com", "TXT"),
        ("s2026b._domainkey.example.com", "TXT"),
    ]
    mx = {"name": "bounce.example.com", "type": "MX", "value": "feedback-smtp.eu-west-1.amazonses.com", "priority": 10}
    assert com["records"][1] == mx
    public = dkim.public_key_b64(private_key("s2026b", "rsa-1024"))
    assert com["records"][8]["value"] == f"v=DKIM1; k=rsa; p={public}"


def test_two_runs_declare_identical_inputs(lock_file: Path) -> None:
    def snapshot(d: Deployment) -> list[tuple[str, str, str, Any, list[str], str, bool]]:
        rows = [
            (r.type, r.name, r.parent, r.inputs, sorted(r.dependencies), r.provider, r.delete_before_replace)
            for r in d.monitor.registered
        ]
        return sorted(rows, key=lambda row: (row[0], row[1]))  # registration order is the event loop's

    first, second = Deployment(lock_file), Deployment(lock_file)
    assert snapshot(first) == snapshot(second)
    assert first.outputs == second.outputs


def test_the_example_stack_deploys_from_the_bundled_lock(caplog: pytest.LogCaptureFixture) -> None:
    raw = yaml.safe_load((ROOT / "stacks" / "Pulumi.example.yaml").read_text(encoding="utf-8"))
    with caplog.at_level(logging.WARNING):
        example = Deployment(ROOT / "stacks" / "spf.lock.json", settings=raw["config"]["sending-domain:settings"])
    names = {r.name for r in example.monitor.of_type(m.DNS_RECORD)}
    assert {"example.com-spf", "example.com-spf-chain-1", "example.com-dkim-s2026a", "example.com-mail-from-mx"} <= names
    zones = sorted(call[1]["filter"]["name"] for call in example.mocks.calls if call[0] == m.GET_ZONE)
    assert zones == ["example.com", "example.org"]
    assert example.outputs["example.com"]["ses"]["dkim_selector"] == "s2026a"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("DMARC reports for example.com go to reports.example.net" in w for w in warned)


# --- what is refused --------------------------------------------------------------------------------------


def _refused(
    lock_file: Path, settings: Any = SETTINGS, resolver_factory: Callable[[], Any] = no_resolver
) -> tuple[str, m.RecordingMonitor, m.ProgramMocks]:
    mocks, monitor = m.install(private_key)

    @pulumi.runtime.test
    def deploy() -> None:
        run(copy.deepcopy(settings), lock_file=lock_file, resolver_factory=resolver_factory, live_identity=no_identity)

    with pytest.raises(pulumi.RunError) as caught:
        deploy()
    return str(caught.value), monitor, mocks


def test_a_bad_config_declares_nothing_and_lists_every_problem(lock_file: Path) -> None:
    bad = copy.deepcopy(SETTINGS)
    bad["domains"][0]["dmarc"]["pct"] = 250
    bad["domains"][0]["ses"]["region"] = "Europe"
    bad["domains"][1]["dkim"] = {"keys": [{"selector": "a.b", "algorithm": "rsa-2048", "state": "active"}]}
    message, monitor, mocks = _refused(lock_file, bad)
    assert message.startswith(f"{SOURCE}: 3 problems:\n")
    assert "domains[0].dmarc.pct: must be 1..100 (percent) [range]" in message
    assert "domains[0].ses.region: 'Europe' is not an AWS region name such as eu-west-1 [ses-region]" in message
    assert "domains[1].dkim.keys[0].selector" in message
    assert monitor.registered == [] and mocks.calls == []


def test_a_malformed_lock_declares_nothing(tmp_path: Path) -> None:
    (tmp_path / "spf.lock.json").write_text("{}", encoding="utf-8")
    message, monitor, _ = _refused(tmp_path / "spf.lock.json")
    assert "the SPF lock file is malformed" in message and monitor.registered == []


def test_a_term_missing_from_the_lock_without_dns_declares_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spf.lock.json"
    path.write_text(SpfLock({}).to_json(), encoding="utf-8")
    message, monitor, _ = _refused(path)
    assert "not pinned; run `sending-domain spf lock --update`" in message and monitor.registered == []


def test_without_a_lock_spf_is_flattened_from_live_dns(tmp_path: Path, dns_server: Callable[..., Any], lock_file: Path) -> None:
    server = dns_server(ZONE_TEXT)
    live = Deployment(tmp_path / "absent.json", resolver_factory=lambda: AsyncResolver([server.nameserver], timeout=1.0))
    pinned = Deployment(lock_file)
    assert server.queries[("_spf.vendor.example", "TXT")] == 1
    records = {r.name: r.inputs for r in live.monitor.of_type(m.DNS_RECORD)}
    assert records == {r.name: r.inputs for r in pinned.monitor.of_type(m.DNS_RECORD)}


def test_a_dns_failure_declares_nothing(tmp_path: Path, dns_server: Callable[..., Any]) -> None:
    server = dns_server(ZONE_TEXT)
    server.fail("_spf.vendor.example", "TXT", "servfail")
    factory = functools.partial(AsyncResolver, [server.nameserver], timeout=0.5, retries=0)
    message, monitor, mocks = _refused(tmp_path / "absent.json", resolver_factory=factory)
    assert "_spf.vendor.example" in message
    assert monitor.registered == [] and mocks.calls == []


# --- __main__.py --------------------------------------------------------------------------------------------


def _run_main(config: dict[str, str]) -> tuple[str, m.RecordingMonitor]:
    _, monitor = m.install(private_key)
    pulumi.runtime.set_all_config(config)

    @pulumi.runtime.test
    def main() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    try:
        with pytest.raises(pulumi.RunError) as caught:
            main()
    finally:
        pulumi.runtime.set_all_config({})
    return str(caught.value), monitor


def test_main_reads_the_project_settings_key() -> None:
    bad = copy.deepcopy(SETTINGS)
    bad["domains"][1]["dmarc"]["p"] = "rejectt"
    message, monitor = _run_main({"sending-domain:settings": json.dumps(bad)})
    assert message == f"{SOURCE}: domains[1].dmarc.p: must be one of none, quarantine, reject; did you mean 'reject'? [enum]"
    assert monitor.registered == []


def test_main_without_settings_says_which_key_is_missing() -> None:
    message, monitor = _run_main({})
    assert "sending-domain:settings" in message and monitor.registered == []



# --- adopting a live domain ------------------------------------------------------------------------------

ADOPT_SETTINGS: dict[str, Any] = {
    "domains": [
        {
            "domain": "example.com",
            "zoneId": EXAMPLE_COM_ZONE_ID,
            "senders": ["ip4:192.0.2.0/24"],
            "dkim": {"keys": [{"selector": "s2026a", "state": "active"}]},
            "dmarc": {"p": "none"},
            "ses": {"region": "eu-west-1", "mailFrom": "bounce"},
        }
    ]
}
LIVE_SPF = "v=spf1 include:_spf.google.com ~all"


def live_record(name: str, content: str, record_id: str, rtype: str = "TXT", comment: str | None = None) -> dict[str, Any]:
    """A record as Cloudflare's getDnsRecords lists it."""
    return {"id": record_id, "name": name, "type": rtype, "content": content, "comment": comment, "ttl": 300}


def adopting(adopt: bool, **overrides: Any) -> dict[str, Any]:
    settings = copy.deepcopy(ADOPT_SETTINGS)
    settings["domains"][0].update(adopt=adopt, **overrides)
    return settings


def adopt_deploy(lock_file: Path, settings: dict[str, Any], live: list[dict[str, Any]], **kw: Any) -> Deployment:
    return Deployment(lock_file, settings=settings, live={EXAMPLE_COM_ZONE_ID: live}, engine_checks=True, **kw)


def refused_run(lock_file: Path, settings: Any, live: dict[str, list[dict[str, Any]]] | None = None,
                **run_options: Any) -> tuple[str, m.RecordingMonitor]:
    """Run the program expecting a :class:`pulumi.RunError`; its message and what was registered (nothing, we hope)."""
    _, monitor = m.install(private_key, live=live)

    @pulumi.runtime.test
    def deploy() -> None:
        run(copy.deepcopy(settings), lock_file=lock_file, resolver_factory=no_resolver,
            **{"live_identity": no_identity, **run_options})

    with pytest.raises(pulumi.RunError) as caught:
        deploy()
    return str(caught.value), monitor


def adopt_refused(lock_file: Path, settings: dict[str, Any], live: list[dict[str, Any]], ses: Any = no_identity) -> tuple[str, m.RecordingMonitor]:
    return refused_run(lock_file, settings, {EXAMPLE_COM_ZONE_ID: live}, live_identity=ses)


def test_an_unmanaged_spf_record_is_imported_with_our_content(lock_file: Path) -> None:
    live = [live_record("example.com", f'"{LIVE_SPF}"', "rec-spf"), live_record("example.com", '"site-verification=1"', "rec-v")]
    d = adopt_deploy(lock_file, adopting(True), live)
    spf = d.monitor.named("example.com-spf", m.DNS_RECORD)
    assert spf.import_id == f"{EXAMPLE_COM_ZONE_ID}/rec-spf"
    assert spf.inputs["content"] == '"v=spf1 ip4:192.0.2.0/24 ~all"' and spf.inputs["comment"] == "managed by sending-domain (stack test)"
    imported = [r.name for r in d.monitor.registered if r.import_id]
    assert imported == ["example.com-spf"]  # the verification TXT is left alone, nothing else existed
    assert d.monitor.of_type(m.DNS_RECORD_REMOVAL) == []


def test_an_unmanaged_spf_record_without_adopt_declares_nothing(lock_file: Path) -> None:
    live = [live_record("example.com", f'"{LIVE_SPF}"', "rec-spf")]
    message, monitor = adopt_refused(lock_file, adopting(False), live)
    assert message.startswith("the stack cannot be deployed over what is live (1 problem(s)); nothing was changed:")
    assert f"example.com: example.com TXT: another SPF record, not created by this stack, is live at example.com: '{LIVE_SPF}' (id rec-spf)" in message
    assert "set adopt: true for this domain" in message and "or delete it first" in message
    assert monitor.registered == []


def test_two_spf_records_one_is_adopted_the_other_deleted(lock_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "test-token")
    live = [live_record("example.com", f'"{LIVE_SPF}"', "rec-a"), live_record("example.com", '"v=spf1 mx -all"', "rec-b")]
    d = adopt_deploy(lock_file, adopting(True), live)
    spf = d.monitor.named("example.com-spf", m.DNS_RECORD)
    [removal] = d.monitor.of_type(m.DNS_RECORD_REMOVAL)
    assert removal.name == "example.com-remove-rec-b" and removal.inputs["record_id"] == "rec-b"
    assert removal.inputs["zone_id"] == EXAMPLE_COM_ZONE_ID and "test-token" not in json.dumps(removal.inputs)
    assert spf.import_id == f"{EXAMPLE_COM_ZONE_ID}/rec-a" and removal.urn in spf.dependencies


def test_deleting_a_competing_record_needs_the_api_token(lock_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    live = [live_record("example.com", f'"{LIVE_SPF}"', "rec-a"), live_record("example.com", '"v=spf1 mx -all"', "rec-b")]
    message, monitor = adopt_refused(lock_file, adopting(True), live)
    assert "set CLOUDFLARE_API_TOKEN" in message and "rec-b" in message and monitor.registered == []


def test_an_identical_unmanaged_record_is_imported_not_created(lock_file: Path) -> None:
    live = [live_record("example.com", '"v=spf1 ip4:192.0.2.0/24 ~all"', "rec-same")]
    d = adopt_deploy(lock_file, adopting(True), live)
    assert d.monitor.named("example.com-spf", m.DNS_RECORD).import_id == f"{EXAMPLE_COM_ZONE_ID}/rec-same"
    message, _ = adopt_refused(lock_file, adopting(False), live)
    assert "rec-same" in message  # creating it again would fail with error 81058


@pytest.mark.parametrize("comment", ["managed by sending-domain (stack test)", "managed by sending-domain"])
def test_our_own_records_are_not_imported(lock_file: Path, comment: str) -> None:
    """This stack's comment, or the plain one records of earlier versions carry."""
    live = [live_record("example.com", '"v=spf1 ip4:198.51.100.1 ~all"', "rec-ours", comment=comment)]
    d = adopt_deploy(lock_file, adopting(False), live)
    assert [r.name for r in d.monitor.registered if r.import_id] == []


def test_another_stacks_record_is_not_ours(lock_file: Path) -> None:
    """Two stacks listing one domain: the second must not publish an SPF record beside the first's."""
    live = [live_record("example.com", '"v=spf1 ip4:198.51.100.1 ~all"', "rec-prod", comment="managed by sending-domain (stack prod)")]
    message, monitor = adopt_refused(lock_file, adopting(False), live)
    assert "another SPF record, not created by this stack, is live at example.com" in message and "rec-prod" in message
    assert monitor.registered == []


@pytest.mark.parametrize("adopt", [False, True])
def test_a_live_dkim_key_at_a_stack_selector_is_refused_even_with_adopt(lock_file: Path, adopt: bool) -> None:
    key = dkim.public_key_b64(private_key("live-key", "rsa-1024"))
    live = [live_record("s2026a._domainkey.example.com", f'"v=DKIM1; k=rsa; p={key}"', "rec-dk")]
    message, monitor = adopt_refused(lock_file, adopting(adopt), live)
    assert "selector s2026a already publishes a DKIM key (id rec-dk)" in message
    assert "new selector" in message and monitor.registered == []


def test_an_existing_ses_identity_is_adopted_or_refused(lock_file: Path) -> None:
    from sending_domain.core.adopt import LiveIdentity

    def existing(region: str, domain: str) -> LiveIdentity:
        assert (region, domain) == ("eu-west-1", "example.com")
        return LiveIdentity((), "AWS_SES", ("t1", "t2", "t3"))

    d = adopt_deploy(lock_file, adopting(True), [], ses=existing)
    identity = d.monitor.named("example.com-ses-identity", m.EMAIL_IDENTITY)
    assert identity.import_id == "example.com" and identity.inputs["tags"] == {"managed-by": "sending-domain"}
    message, monitor = adopt_refused(lock_file, adopting(False), [], ses=existing)
    assert "an SES identity for example.com already exists in eu-west-1" in message and monitor.registered == []
    fresh = adopt_deploy(lock_file, adopting(False), [])
    assert fresh.monitor.named("example.com-ses-identity", m.EMAIL_IDENTITY).import_id == ""


def test_adopting_a_domain_at_p_reject_is_a_no_op_and_a_downgrade_is_refused(lock_file: Path) -> None:
    live = [live_record("_dmarc.example.com", '"v=DMARC1; p=reject"', "rec-dmarc")]
    d = adopt_deploy(lock_file, adopting(True, dmarc={"p": "reject"}), live)  # the DmarcStage check runs too
    stage = d.monitor.named("example.com-dmarc-stage")
    assert stage.inputs["start"] == {"p": "reject", "pct": 100}
    assert d.monitor.named("example.com-dmarc", m.DNS_RECORD).import_id == f"{EXAMPLE_COM_ZONE_ID}/rec-dmarc"
    message, monitor = adopt_refused(lock_file, adopting(True, dmarc={"p": "none"}), live)
    assert "enforces p=reject today and the stack asks for p=none" in message and monitor.registered == []


def test_without_a_live_policy_a_first_deployment_above_none_is_refused_by_the_stage(lock_file: Path) -> None:
    with pytest.raises(Exception, match="a first deployment starts at p=none"):
        adopt_deploy(lock_file, adopting(True, dmarc={"p": "reject"}), [])


@pytest.mark.parametrize("stack_file", sorted((ROOT / "stacks").glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_every_bundled_stack_deploys_first_and_second_time(stack_file: Path) -> None:
    raw = yaml.safe_load(stack_file.read_text(encoding="utf-8"))["config"]["sending-domain:settings"]
    lock = ROOT / "stacks" / "spf.lock.json"
    first = Deployment(lock, settings=raw, engine_checks=True)
    assert first.monitor.of_type(m.DNS_RECORD)
    second = Deployment(lock, settings=raw, engine_checks=True, olds=first.mocks.outputs)
    assert sorted(r.name for r in second.monitor.registered) == sorted(r.name for r in first.monitor.registered)


def test_with_reimport_own_our_records_are_imported(lock_file: Path) -> None:
    live = [live_record("example.com", '"v=spf1 ip4:192.0.2.0/24 ~all"', "rec-ours", comment="managed by sending-domain")]
    d = adopt_deploy(lock_file, adopting(False, reimportOwn=True), live)
    assert [(r.name, r.import_id) for r in d.monitor.registered if r.import_id] == [
        ("example.com-spf", f"{EXAMPLE_COM_ZONE_ID}/rec-ours")]


# --- the DMARC evidence gate ---------------------------------------------------------------------------

PASS_NONE_TO_Q10 = {"verdict": "PASS", "stage": "p=none", "next_stage": "p=quarantine pct=10",
                    "judged_at": "2026-11-30T06:17:00Z", "messages": 12000}


def evidence_file(directory: Path, entries: dict[str, Any], stack: str = "test") -> Path:
    path = directory / "dmarc-evidence.json"
    path.write_text(json.dumps({"version": 1, "kind": "dmarc-evidence", "stacks": {stack: entries}}), encoding="utf-8")
    return path


def stepped_up(lock_file: Path, dmarc: dict[str, Any], **kw: Any) -> Deployment:
    """A second deployment of the adoption stack, its DMARC moved from p=none to ``dmarc``."""
    first = adopt_deploy(lock_file, adopting(False), [])
    return adopt_deploy(lock_file, adopting(False, dmarc=dmarc), [], olds=first.mocks.outputs, **kw)


def test_a_step_towards_enforcement_without_evidence_is_refused(lock_file: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="from p=none to p=quarantine pct=10 without evidence .* has no PASS for it"):
        stepped_up(lock_file, {"p": "quarantine", "pct": 10})
    failing = evidence_file(tmp_path, {"example.com": {**PASS_NONE_TO_Q10, "verdict": "FAIL"}})
    with pytest.raises(Exception, match="without evidence"):
        stepped_up(lock_file, {"p": "quarantine", "pct": 10}, evidence_file=failing)
    elsewhere = evidence_file(tmp_path, {"example.com": PASS_NONE_TO_Q10}, stack="prod")  # another stack's PASS
    with pytest.raises(Exception, match="without evidence"):
        stepped_up(lock_file, {"p": "quarantine", "pct": 10}, evidence_file=elsewhere)


def test_a_pass_for_the_step_admits_it_and_is_kept_in_the_outputs(lock_file: Path, tmp_path: Path) -> None:
    path = evidence_file(tmp_path, {"example.com": PASS_NONE_TO_Q10})
    d = stepped_up(lock_file, {"p": "quarantine", "pct": 10}, evidence_file=path)
    admitted = {k: PASS_NONE_TO_Q10[k] for k in ("verdict", "stage", "next_stage", "judged_at")}
    assert d.inputs("example.com-dmarc-stage")["evidence"] == admitted
    assert d.outputs["example.com"]["dmarc"]["stage"] == "p=quarantine pct=10"
    assert d.outputs["example.com"]["dmarc"]["step"] == {"force": False, "reason": None, "evidence": admitted}
    with pytest.raises(Exception, match="2 steps towards enforcement at once"):  # a PASS never skips a rung
        stepped_up(lock_file, {"p": "quarantine", "pct": 25}, evidence_file=path)


def test_a_forced_step_keeps_its_reason_in_the_outputs(lock_file: Path) -> None:
    d = stepped_up(lock_file, {"p": "reject", "force": True, "reason": "enforced elsewhere for years"})
    assert d.outputs["example.com"]["dmarc"]["step"] == {"force": True, "reason": "enforced elsewhere for years", "evidence": None}
    assert d.inputs("example.com-dmarc-stage")["reason"] == "enforced elsewhere for years"


@pytest.mark.parametrize(
    "text,problem",
    [
        ("{", "is not JSON"),
        ('{"version": 1, "kind": "dmarc-evidence", "stacks": {"test": {"example.com": {"verdict": "OK"}}}}',
         "stacks.test.example.com.verdict: must be one of PASS, FAIL, INSUFFICIENT_EVIDENCE [evidence-verdict]"),
        ('{"version": 2, "kind": "dmarc-evidence", "stacks": {}}', "version: must be 1"),
    ],
)
def test_a_bad_evidence_file_declares_nothing(lock_file: Path, tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "dmarc-evidence.json"
    path.write_text(text, encoding="utf-8")
    message, monitor = refused_run(lock_file, SETTINGS, evidence_file=path)
    assert str(path) in message and problem in message
    assert monitor.registered == []
