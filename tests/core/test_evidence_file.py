"""core.evidence_file: the reviewed DMARC evidence file, checked field by field, rewritten deterministically."""

from __future__ import annotations

import json

import pytest

from sending_domain.core.dmarc import Stage
from sending_domain.core.errors import ConfigError
from sending_domain.core.evidence_file import (
    MAX_BYTES,
    Judgement,
    empty_document,
    judgements,
    parse_evidence,
    render_evidence,
    with_entries,
)

PASS = {"verdict": "PASS", "stage": "p=none", "next_stage": "p=quarantine pct=10", "judged_at": "2026-11-30T07:41:00Z"}


def document(entries: dict, stack: str = "prod") -> str:
    return json.dumps({"version": 1, "kind": "dmarc-evidence", "stacks": {stack: entries}})


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_evidence(text, source="stacks/dmarc-evidence.json")
    assert info.value.source == "stacks/dmarc-evidence.json"
    return [(p.path, p.code) for p in info.value.problems]


def test_a_pass_admits_its_step_and_nothing_else_does() -> None:
    judged = judgements(parse_evidence(document({"example.com": PASS}), source="f"), "prod")
    assert judged["example.com"].passed == (Stage("none"), Stage("quarantine", 10))
    assert Judgement("FAIL", "p=none", "p=quarantine pct=10", PASS["judged_at"]).passed is None
    assert Judgement("INSUFFICIENT_EVIDENCE", "p=none", "p=quarantine pct=10", PASS["judged_at"]).passed is None
    assert Judgement("PASS", "p=reject", None, PASS["judged_at"]).passed is None  # the top of the ladder
    assert judgements(parse_evidence(document({"example.com": PASS}), source="f"), "dev") == {}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("[]", [("", "evidence-shape")]),
        ('{"version": 2, "kind": "dmarc-evidence", "stacks": {}}', [("version", "evidence-version")]),
        ('{"version": 1, "kind": "dmarc-status", "stacks": {}}', [("kind", "evidence-kind")]),
        ('{"version": 1, "kind": "dmarc-evidence", "stacks": []}', [("stacks", "evidence-shape")]),
        (document({"example.com": PASS}, stack="../x"), [("stacks.'../x'", "evidence-stack")]),
        (document({"example.com": "PASS"}), [("stacks.prod.example.com", "evidence-shape")]),
        (document({"example.com": {**PASS, "verdict": "pass"}}), [("stacks.prod.example.com.verdict", "evidence-verdict")]),
        (document({"example.com": {**PASS, "stage": "p=none pct=100"}}), [("stacks.prod.example.com.stage", "evidence-stage")]),
        (document({"example.com": {**PASS, "next_stage": 10}}), [("stacks.prod.example.com.next_stage", "evidence-stage")]),
        (document({"example.com": {**PASS, "judged_at": "yesterday"}}), [("stacks.prod.example.com.judged_at", "evidence-time")]),
        (document({"a.example": {"verdict": "PASS"}, "b.example": PASS}),
         [("stacks.prod.a.example.stage", "evidence-stage"), ("stacks.prod.a.example.judged_at", "evidence-time")]),
        ("{", [("", "evidence-json")]),
        ("[" * 100_000, [("", "evidence-json")]),  # nesting: refused, no RecursionError
    ],
)
def test_every_field_the_gate_reads_is_checked(text: str, expected: list[tuple[str, str]]) -> None:
    assert problems(text) == expected


def test_the_size_is_capped() -> None:
    assert problems(" " * (MAX_BYTES + 1)) == [("", "evidence-size")]


def test_a_control_character_in_a_domain_is_escaped_in_the_path() -> None:
    [(path, code)] = problems(document({"bad\x1b[31m.example": {**PASS, "verdict": "?"}}))
    assert "\x1b" not in path and code == "evidence-verdict"


def test_entries_replace_their_domains_only_and_the_text_is_deterministic() -> None:
    doc = with_entries(empty_document(), "prod", {"b.example": PASS, "a.example": {**PASS, "verdict": "FAIL"}})
    doc = with_entries(doc, "dev", {"a.example": PASS})
    doc = with_entries(doc, "prod", {"a.example": PASS})
    assert doc["stacks"] == {"prod": {"a.example": PASS, "b.example": PASS}, "dev": {"a.example": PASS}}
    text = render_evidence(doc)
    assert text == render_evidence(parse_evidence(text, source="f")) and text.endswith("}\n")
    assert text.index('"dev"') < text.index('"prod"') and text.index('"a.example"') < text.index('"b.example"')
