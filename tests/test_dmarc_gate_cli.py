"""The evidence gate from the command line: ``dmarc status --write`` records verdicts in the reviewed evidence file,
``dmarc propose`` takes the steps a PASS admits by editing the stack file, and the DMARC stage resource admits
exactly those steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.dmarc_stage import DmarcStageProvider
from sending_domain.core.evidence_file import judgements, parse_evidence
from sending_domain.desired import read_evidence
from sending_domain.stack import load_stack
from tests.cli.test_json_contract import valid
from tests.dmarc_reports import example_streams
from tests.test_dmarc_ingest import LOCK, SETTINGS, _stack_with_reports, run


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    """A stack at p=none whose reports for example.com pass (news.example.org has none)."""
    assert LOCK is not None
    return _stack_with_reports(tmp_path, example_streams(SETTINGS, LOCK))


def test_status_write_records_every_verdict_and_keeps_other_entries(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evidence = stack_file.parent / "dmarc-evidence.json"
    other = {"version": 1, "kind": "dmarc-evidence", "stacks": {"prod": {"example.com": {
        "verdict": "FAIL", "stage": "p=none", "next_stage": "p=quarantine pct=10", "judged_at": "2026-01-01T00:00:00Z"}}}}
    evidence.write_text(json.dumps(other), encoding="utf-8")
    capsys.readouterr()
    code, out, err = run(capsys, "dmarc", "status", "--config", str(stack_file), "--write", "--json")
    assert code == 0 and valid("dmarc-status", out)
    assert f"recorded 2 verdict(s) in {evidence}" in err
    doc = parse_evidence(evidence.read_text(encoding="utf-8"), source=str(evidence))
    assert doc["stacks"]["prod"] == other["stacks"]["prod"]  # another stack's entries are kept
    judged = judgements(doc, "t")
    assert {d: (j.verdict, j.stage, j.next_stage) for d, j in judged.items()} == {
        "example.com": ("PASS", "p=none", "p=quarantine pct=10"),
        "news.example.org": ("INSUFFICIENT_EVIDENCE", "p=none", "p=quarantine pct=10"),
    }
    entry = doc["stacks"]["t"]["example.com"]
    assert entry["counted"]["reports"] == 14 * 4 and entry["blockers"] == [] and entry["aligned_share"] == 100
    # one domain again: the other's entry stays
    code, _, _ = run(capsys, "dmarc", "status", "--config", str(stack_file), "--domain", "example.com", "--write")
    assert code == 0 and set(judgements(read_evidence(evidence), "t")) == {"example.com", "news.example.org"}


def test_propose_takes_the_passed_step_in_place(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "dmarc", "status", "--config", str(stack_file), "--write")[0] == 0
    before = stack_file.read_text(encoding="utf-8")
    news_before = load_stack(config_file=stack_file).settings.domain("news.example.org")
    code, out, _ = run(capsys, "dmarc", "propose", "--config", str(stack_file), "--json")
    document = valid("dmarc-propose", out)
    assert code == 0 and document["proposals"] == [
        {"domain": "example.com", "stage": "p=none", "next_stage": "p=quarantine pct=10", "status": "proposed", "note": None}]
    after = stack_file.read_text(encoding="utf-8")
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert removed == ["          p: none                     # none | quarantine | reject"]
    assert added == ["          p: quarantine                     # none | quarantine | reject", "          pct: 10"]
    settings = load_stack(config_file=stack_file).settings
    assert (settings.domain("example.com").dmarc.p, settings.domain("example.com").dmarc.pct) == ("quarantine", 10)
    assert settings.domain("news.example.org") == news_before
    # the PASS was judged at p=none: at p=quarantine pct=10 there is nothing more to take
    code, out, _ = run(capsys, "dmarc", "propose", "--config", str(stack_file))
    assert code == 0 and out.startswith("no domain has a PASS judged at its stage")
    assert stack_file.read_text(encoding="utf-8") == after


def test_the_written_pass_admits_exactly_its_step(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "dmarc", "status", "--config", str(stack_file), "--write")[0] == 0
    judged = judgements(read_evidence(stack_file.parent / "dmarc-evidence.json"), "t")
    check = DmarcStageProvider().check
    old = {"domain": "example.com", "p": "none", "pct": 100.0, "force": False}

    def step(p: str, pct: float, domain: str = "example.com") -> list[str]:
        news = {**old, "domain": domain, "p": p, "pct": pct, "evidence": judged[domain].as_input()}
        return [f.reason for f in check({**old, "domain": domain}, news).failures]

    assert step("quarantine", 10.0) == []
    assert "2 steps towards enforcement at once" in step("quarantine", 25.0)[0]
    assert "has no PASS for it" in step("quarantine", 10.0, domain="news.example.org")[0]  # INSUFFICIENT_EVIDENCE


def test_propose_leaves_a_flow_style_policy_for_a_hand_edit(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "dmarc", "status", "--config", str(stack_file), "--write")[0] == 0
    text = stack_file.read_text(encoding="utf-8")
    start = text.index("        dmarc:\n", text.index("domain: example.com"))
    end = text.index("\n", text.index("          force: false", start)) + 1
    flow = text[:start] + "        dmarc: {p: none}\n" + text[end:]
    stack_file.write_text(flow, encoding="utf-8")
    code, out, _ = run(capsys, "dmarc", "propose", "--config", str(stack_file))
    assert code == 1 and "example.com: p=none → p=quarantine pct=10: edit by hand: its dmarc mapping is written in flow style" in out
    assert stack_file.read_text(encoding="utf-8") == flow


def test_a_damaged_evidence_file_is_bad_input(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evidence = stack_file.parent / "dmarc-evidence.json"
    evidence.write_bytes(b'{"version": 1, "kind": "dmarc-evidence", "stacks": {"t": {"example.com": {"verdict": "PASS"}}}}')
    code, _, err = run(capsys, "dmarc", "propose", "--config", str(stack_file))
    assert code == 2 and "stacks.t.example.com.stage: must be a DMARC stage" in err and "Traceback" not in err
    evidence.write_bytes(b"\xff\xfe")
    code, _, err = run(capsys, "dmarc", "status", "--config", str(stack_file), "--write")
    assert code == 2 and "not UTF-8" in err


def test_propose_takes_several_steps_in_one_edit(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evidence = stack_file.parent / "dmarc-evidence.json"
    passed = {"verdict": "PASS", "stage": "p=none", "next_stage": "p=quarantine pct=10", "judged_at": "2026-11-30T07:41:00Z"}
    evidence.write_text(json.dumps({"version": 1, "kind": "dmarc-evidence", "stacks": {"t": {
        "example.com": passed, "news.example.org": passed}}}), encoding="utf-8")
    before = load_stack(config_file=stack_file).settings
    code, out, _ = run(capsys, "dmarc", "propose", "--config", str(stack_file), "--json")
    assert code == 0 and [p["status"] for p in valid("dmarc-propose", out)["proposals"]] == ["proposed", "proposed"]
    after = load_stack(config_file=stack_file).settings
    for domain in ("example.com", "news.example.org"):
        assert (after.domain(domain).dmarc.p, after.domain(domain).dmarc.pct) == ("quarantine", 10)
        assert after.domain(domain).dmarc.rua == before.domain(domain).dmarc.rua
