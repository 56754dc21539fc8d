"""``sending-domain drift`` against a real DNS server on loopback, serving the zone the renderer produced."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from sending_domain.cli.main import main
from sending_domain.core import dkim
from sending_domain.core.render import all_records
from sending_domain.desired import desired_domains, lock_path, read_lock, run_sync
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.spf_lock import refresh_lock
from sending_domain.stack import load_stack
from tests.dnsserver import DnsTestServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "stacks" / "Pulumi.example.yaml"
VENDORS = (ROOT / "tests" / "fixtures" / "zones" / "vendors.zone").read_text(encoding="utf-8")
FORMATS = ([], ["--json"], ["--markdown"])
NOW = "2026-01-01T00:00:00Z"


@dataclass
class World:
    """The example stack in a temporary directory, its lock, and a DNS server publishing exactly what it wants."""

    server: DnsTestServer
    config: Path
    customer: str  # the rendered records as zone text (pending DKIM keys published with fresh public keys)
    dkim_public: dict[tuple[str, str], str]

    def serve(self, customer: str | None = None, vendors: str = VENDORS) -> None:
        self.server.load(vendors + "\n$ORIGIN .\n" + (self.customer if customer is None else customer))

    def drift(self, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
        code = main(["drift", "--config", str(self.config), "--nameserver", self.server.nameserver, *extra])
        out, err = capsys.readouterr()
        return code, out, err


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    """A public key per algorithm, for the DKIM records of the keys the stack has not deployed yet."""
    return {alg: dkim.public_key_b64(dkim.generate_private_key_pem(alg)) for alg in ("rsa-2048", "ed25519")}


@pytest.fixture
def world(tmp_path: Path, dns_server: Callable[..., DnsTestServer], keys: dict[str, str]) -> World:
    config = tmp_path / "Pulumi.example.yaml"
    shutil.copy(EXAMPLE, config)
    server = dns_server(VENDORS)
    loaded = load_stack(config_file=config)
    lock = run_sync(refresh_lock(loaded.settings, AsyncResolver([server.nameserver]), NOW))
    lock_path(tmp_path).write_text(lock.to_json(), encoding="utf-8")
    desired = run_sync(desired_domains(loaded.settings, lock=read_lock(lock_path(tmp_path))))
    public = {(d.domain, p.selector): keys[p.algorithm] for d in desired for p in d.pending}
    rendered = run_sync(desired_domains(loaded.settings, lock=read_lock(lock_path(tmp_path)), dkim_public=public))
    assert all(not d.pending for d in rendered)
    customer = "\n".join(r.record.zone_line() for r in all_records(rendered)) + "\n"
    w = World(server, config, customer, public)
    w.serve()
    return w


def replace_line(zone: str, start: str, new: str | None) -> str:
    lines = zone.splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith(start)]
    assert len(hits) == 1, (start, hits)
    if new is None:
        del lines[hits[0]]
    else:
        lines[hits[0]] = new
    return "\n".join(lines) + "\n"


def test_zone_built_from_the_render_output_is_no_drift(world: World, capsys) -> None:
    code, out, err = world.drift(capsys)
    assert (code, err) == (0, "")
    assert out.startswith("stack example: no drift (")
    code, out, _ = world.drift(capsys, "--json")
    data = json.loads(out)
    assert (code, data["drifted"], data["changes"], data["vendors"]) == (0, False, [], [])
    assert len(data["notes"]) == 3  # three DKIM keys checked by k= only: their public keys are not in the stack
    code, out, _ = world.drift(capsys, "--markdown")
    assert (code, out.splitlines()[0]) == (0, "## No DNS drift in stack `example`")


def test_unrelated_records_at_our_names_are_not_drift(world: World, capsys) -> None:
    world.serve(world.customer + 'example.com. 300 IN TXT "google-site-verification=abc123"\n'
                + '_dmarc.example.com. 300 IN TXT "a note"\n')
    assert world.drift(capsys)[0] == 0


def test_missing_record_is_a_create(world: World, capsys) -> None:
    world.serve(replace_line(world.customer, "bounce.example.com. 3600 IN MX", None))
    code, out, _ = world.drift(capsys, "--json")
    changes = json.loads(out)["changes"]
    assert code == 1
    assert changes == [{"action": "create", "name": "bounce.example.com", "type": "MX", "before": None,
                        "after": "10 feedback-smtp.eu-west-1.amazonses.com",
                        "reason": "the MAIL FROM MX is missing: SES cannot use the custom MAIL FROM domain"}]


def test_altered_record_is_an_update(world: World, capsys) -> None:
    zone = replace_line(world.customer, "_dmarc.news.example.org.", '_dmarc.news.example.org. 300 IN TXT "v=DMARC1; p=reject"')
    world.serve(zone)
    code, out, _ = world.drift(capsys, "--json")
    (change,) = json.loads(out)["changes"]
    assert code == 1
    assert (change["action"], change["name"], change["before"]) == ("update", "_dmarc.news.example.org", "v=DMARC1; p=reject")
    assert change["after"].startswith("v=DMARC1; p=none")


def test_extra_chain_and_duplicate_spf_are_deletes(world: World, capsys) -> None:
    chains = sum(1 for line in world.customer.splitlines() if line.startswith("_spf") and ".example.com." in line)
    stale = f"_spf{chains + 1}.example.com."
    world.serve(world.customer + f'{stale} 300 IN TXT "v=spf1 ip4:203.0.113.0/24"\n'
                + 'news.example.org. 300 IN TXT "v=spf1 -all"\n')
    code, out, _ = world.drift(capsys, "--json")
    changes = [(c["action"], c["name"], c["before"]) for c in json.loads(out)["changes"]]
    assert code == 1
    assert changes == [("delete", stale.rstrip("."), "v=spf1 ip4:203.0.113.0/24"), ("delete", "news.example.org", "v=spf1 -all")]


def test_a_dkim_key_is_compared_exactly_with_the_deployment_outputs(world: World, capsys, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"example.com": {"dkim": {sel: {"public_key": key} for (_, sel), key in world.dkim_public.items()}}}))
    assert world.drift(capsys, "--outputs", str(outputs))[0] == 0
    other = dkim.public_key_b64(dkim.generate_private_key_pem("rsa-1024"))
    zone = replace_line(world.customer, "s2026a._domainkey.example.com.", f's2026a._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=rsa; p={other}"')
    world.serve(zone)
    assert world.drift(capsys)[0] == 0  # without outputs: only k= and a non-empty p= can be checked
    code, out, _ = world.drift(capsys, "--outputs", str(outputs), "--json")
    (change,) = json.loads(out)["changes"]
    assert (code, change["action"], change["name"]) == (1, "update", "s2026a._domainkey.example.com")


def test_a_vendor_that_changed_its_addresses_is_reported(world: World, capsys) -> None:
    vendors = VENDORS.replace("ip4:199.255.192.0/22 ", "ip4:199.255.192.0/22 ip4:203.0.113.0/24 ")
    assert vendors != VENDORS
    world.serve(vendors=vendors)
    code, out, _ = world.drift(capsys)
    assert code == 1
    assert ("* vendor include:amazonses.com's live SPF tree no longer matches the lock: "
            "the flattened record is stale and mail from its new addresses (203.0.113.0/24) would fail SPF; "
            f"run `sending-domain spf lock --update --config {world.config}` and review the diff") in out.splitlines()
    assert "to create" not in out  # the records still match the stack: only the vendor moved


@pytest.mark.parametrize("fmt", FORMATS, ids=["text", "json", "markdown"])
def test_output_is_identical_across_runs(world: World, capsys, fmt: list[str]) -> None:
    zone = replace_line(world.customer, "bounce.example.com. 3600 IN MX", None)
    zone = replace_line(zone, "_dmarc.news.example.org.", '_dmarc.news.example.org. 300 IN TXT "v=DMARC1; p=reject"')
    world.serve(zone + '_spf9.example.com. 300 IN TXT "v=spf1 -all"\nexample.com. 300 IN TXT "v=spf1 ~all"\n',
                vendors=VENDORS.replace("ip4:167.89.0.0/17 ", ""))
    first = world.drift(capsys, *fmt)
    second = world.drift(capsys, *fmt)
    assert first[0] == 1 and first[2] == ""
    assert first == second
    assert first[1].encode() == second[1].encode()


def test_dns_failure_is_exit_3_with_the_partial_report(world: World, capsys) -> None:
    world.server.fail("_dmarc.example.com", "TXT", "servfail")
    code, out, err = world.drift(capsys)
    assert code == 3
    assert out.startswith("INCOMPLETE: DNS failed for now, retry later; this report leaves out example.com (not compared: ")
    assert "_dmarc.example.com" in out and "news.example.org" not in out.splitlines()[0]
    assert "retry later" in err and "example.com" in err
    code, out, _ = world.drift(capsys, "--json")
    document = json.loads(out)
    assert code == 3 and document["exit_code"] == 3 and document["complete"] is False
    assert [u["domain"] for u in document["unchecked"]] == ["example.com"] and document["drifted"] is False
    assert document["summary"]["checked"] > 0  # the other domains were compared


def test_vendor_dns_failure_is_exit_3_and_records_still_compared(world: World, capsys) -> None:
    world.server.fail("_spf.google.com", "TXT", "servfail")
    code, out, _ = world.drift(capsys, "--json")
    document = json.loads(out)
    assert code == 3 and document["complete"] is False and "_spf.google.com" in document["vendors_error"]


def test_drift_found_beats_a_dns_failure(world: World, capsys) -> None:
    world.serve(world.customer.replace("v=DMARC1; p=none", "v=DMARC1; p=reject", 1))
    assert "v=DMARC1; p=none" in world.customer
    world.server.fail("_spf.google.com", "TXT", "servfail")
    assert world.drift(capsys)[0] == 1


def test_domain_option_compares_only_that_domain(world: World, capsys) -> None:
    code, out, _ = world.drift(capsys, "--json", "--domain", "example.com")
    assert code == 0
    document = json.loads(out)
    everything = json.dumps(document)
    assert "news.example.org" not in everything and document["summary"]["checked"] > 0
    code, _, err = world.drift(capsys, "--domain", "nosuch.example")
    assert code == 2 and "[unknown-domain]" in err


def test_bad_input_is_exit_2(world: World, capsys, tmp_path: Path) -> None:
    code, _, err = main(["drift", "--stack", "no-such-stack"]), *capsys.readouterr()
    assert code == 2 and "no stack file" in err
    lock_path(tmp_path).unlink()
    code, _, err = world.drift(capsys)
    assert code == 2 and "spf lock --update" in err
    assert main(["drift", "--stack", "x", "--json", "--markdown"]) == 2


def test_no_lock_means_nothing_is_resolved_for_the_stack(world: World, capsys) -> None:
    world.server.reset_counts()  # a missing lock must fail before any DNS question
    lock_path(world.config.parent).unlink()
    assert world.drift(capsys)[0] == 2
    assert world.server.total_queries == 0


def test_a_key_is_named_by_its_lifecycle_state(world: World, capsys) -> None:
    live = [line for line in world.customer.splitlines() if line.startswith("s2026a._domainkey.example.com.")]
    assert len(live) == 1
    broken = live[0].split(" IN TXT ")[0] + ' IN TXT "v=DKIM1; k=rsa; p="'
    world.serve(replace_line(world.customer, "s2026a._domainkey.example.com.", broken))
    code, out, _ = world.drift(capsys, "--json")
    reasons = [c["reason"] for c in json.loads(out)["changes"] if c["name"] == "s2026a._domainkey.example.com"]
    assert code == 1 and reasons and all("the active key's live record" in r for r in reasons)
    assert not any("pending" in r for r in reasons)
