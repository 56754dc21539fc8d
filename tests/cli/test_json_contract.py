"""One JSON contract: every command's --json output, from real runs, validated against docs/schemas/*.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from sending_domain.cli.main import main
from tests.cli.test_drift_cli import VENDORS, World, keys, world  # noqa: F401 (fixtures)
from tests.conftest import MakeDnsServer
from tests.verify.deployment import STACK_FILE, Zone, outputs_document, render

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
EXAMPLE = ROOT / "stacks" / "Pulumi.example.yaml"


def schema(name: str) -> dict:
    document = json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def valid(name: str, out: str) -> dict:
    """The one JSON document ``out`` holds, checked against its schema (every error listed on failure)."""
    document = json.loads(out)
    errors = sorted(jsonschema.Draft202012Validator(schema(name)).iter_errors(document), key=str)
    assert errors == [], "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    return document


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_schema_is_documented_and_valid() -> None:
    text = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema(path.name.removesuffix(".schema.json"))
        assert f"schemas/{path.name}" in text


def test_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--stack", "example", "--json")
    document = valid("plan", out)
    assert code == 0 and document["kind"] == "plan"
    assert run(capsys, "plan", "--stack", "example", "--format", "json")[1] == out  # the synonym


def test_plan_zone_by_id_is_null_with_the_id_beside_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.byid.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "zone: example.com             #", "zoneId: 023e105f4ecef8ad9ca31a8372d0c353  #", 1), encoding="utf-8")
    shutil.copy(ROOT / "stacks" / "spf.lock.json", tmp_path / "spf.lock.json")
    code, out, err = run(capsys, "plan", "--config", str(config), "--json")
    assert code == 0, err
    records = [r for d in valid("plan", out)["domains"] if d["domain"] == "example.com" for r in d["records"]]
    assert records and {(r["zone"], r["zone_id"]) for r in records} == {(None, "023e105f4ecef8ad9ca31a8372d0c353")}


def test_plan_with_reports_shows_the_mx_and_the_authorisation(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.reports.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    reports = "\n    reports: {domain: dmarc-reports.example.com, region: eu-west-1, ruleSet: {name: inbound-main}}\n"
    config.write_text(text + reports, encoding="utf-8")
    shutil.copy(ROOT / "stacks" / "spf.lock.json", tmp_path / "spf.lock.json")
    code, out, err = run(capsys, "plan", "--config", str(config), "--json")
    assert code == 0, err
    records = {(r["purpose"], r["name"]): r for d in valid("plan", out)["domains"] for r in d["records"]}
    mx = records[("reports-mx", "dmarc-reports.example.com")]
    assert (mx["type"], mx["value"], mx["priority"], mx["zone"]) == ("MX", "inbound-smtp.eu-west-1.amazonaws.com", 10, "example.com")
    assert ("dmarc-report-auth", "news.example.org._report._dmarc.dmarc-reports.example.com") in records


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["plan", "--stack", "nosuch", "--json"], 2, "file-not-found"),
        (["plan", "--json"], 2, "usage"),
        (["verify", "--stack", "example", "--wait", "-1", "--json"], 2, "usage"),
        (["drift", "--no-such-option", "--json"], 2, "usage"),
        (["plan", "--stack", "example", "--domain", "nosuch.example", "--format", "json"], 2, "unknown-domain"),
    ],
)
def test_errors(capsys: pytest.CaptureFixture[str], args: list[str], code: int, error: str) -> None:
    got, out, err = run(capsys, *args)
    document = valid("error", out)
    assert (got, document["exit_code"], document["error"]["code"]) == (code, code, error)
    assert err  # the same failure, for people, on stderr


def test_stack_problems_are_all_in_the_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "Pulumi.bad.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8").replace("ttl: 3600", "ttl: 0").replace("maxLookups: 10 ", "maxLookups: 11 ", 1), encoding="utf-8")
    code, out, _ = run(capsys, "plan", "--config", str(config), "--json")
    document = valid("error", out)
    assert code == 2 and len(document["problems"]) >= 2 and document["error"]["source"] == str(config)
    assert {p["path"] for p in document["problems"]} >= {"domains[0].ttl", "domains[0].spf.maxLookups"}


def _deployed(dns_server: MakeDnsServer, tmp_path: Path) -> tuple[list[str], object]:
    server = dns_server()
    server.load(Zone.deployed(render(server)).text())
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(outputs_document()), encoding="utf-8")
    return ["verify", "--config", str(STACK_FILE), "--nameserver", server.nameserver, "--no-ses", "--outputs", str(outputs), "--json"], server


def test_verify_pass_fail_and_partial(capsys: pytest.CaptureFixture[str], dns_server: MakeDnsServer, tmp_path: Path) -> None:
    args, server = _deployed(dns_server, tmp_path)
    code, out, _ = run(capsys, *args)
    assert code == 0 and valid("verify", out)["exit_code"] == 0
    server.fail("_dmarc.example.com", "TXT", "servfail")  # type: ignore[attr-defined]
    code, out, _ = run(capsys, *args)
    assert code == 3 and valid("verify", out)["exit_code"] == 3
    server.load("")  # type: ignore[attr-defined]
    code, out, _ = run(capsys, *args)
    assert code == 1 and valid("verify", out)["exit_code"] == 1


def test_drift_clean_drifted_and_partial(capsys: pytest.CaptureFixture[str], world: World) -> None:  # noqa: F811
    code, out, _ = world.drift(capsys, "--json")
    assert code == 0 and valid("drift", out)["complete"] is True
    world.serve(world.customer.replace("v=DMARC1; p=none", "v=DMARC1; p=reject", 1))
    code, out, _ = world.drift(capsys, "--json")
    assert code == 1 and valid("drift", out)["changes"]
    world.serve()
    world.server.fail("_dmarc.example.com", "TXT", "servfail")
    code, out, _ = world.drift(capsys, "--json")
    assert code == 3 and valid("drift", out)["unchecked"]


def test_spf_flatten_and_lock(capsys: pytest.CaptureFixture[str], world: World) -> None:  # noqa: F811
    ns = world.server.nameserver
    code, out, _ = run(capsys, "spf", "flatten", "example.com", "--record", "v=spf1 include:_spf.google.com ~all", "--nameserver", ns, "--json")
    assert code == 0 and valid("spf-flatten", out)["records"]
    code, out, _ = run(capsys, "spf", "lock", "--check", "--config", str(world.config), "--nameserver", ns, "--json")
    assert code == 0 and valid("spf-lock", out)["changes"] == []
    code, out, _ = run(capsys, "spf", "lock", "--update", "--config", str(world.config), "--nameserver", ns, "--json")
    assert code == 0 and valid("spf-lock", out)["terms"]
