"""components.dmarc_stage: the provider refuses too large a step towards enforcement, and a step without a PASS
in the evidence file, exactly as the core says.

The provider's methods never run under Pulumi's mocks, so they are called directly with the shapes the
dynamic-provider process passes: ``check(old inputs, new inputs)``, ``diff``/``update(old outputs, new
inputs)``, numbers as floats.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import dill
import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.dmarc_stage import DmarcStage, DmarcStageProvider
from sending_domain.core.dmarc import Stage

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = pulumi.runtime.rpc.UNKNOWN
FORCE = "set dmarc.force: true with a dmarc.reason"
EVIDENCE = "run `sending-domain dmarc status --write` and commit its PASS in the evidence file"
WHY = "reports from 4 receivers, read by hand"
NONE_TO_REJECT = (
    "DMARC for example.com would move from p=none to p=reject, 7 steps towards enforcement at once; "
    f"move one step (next: p=quarantine pct=10) or {FORCE}"
)
FIRST_AT_REJECT = (
    "DMARC for example.com would start at p=reject; a first deployment starts at p=none so reports can be read "
    f"before enforcing — start at p=none or {FORCE} (e.g. to adopt a domain that already enforces)"
)


def props(p: str, pct: float = 100.0, *, domain: str = "example.com", force: bool = False, **extra: Any) -> dict:
    """Inputs as the engine sends them (pct as a float); a forced step carries its reason."""
    reason = WHY if force else None
    return {"domain": domain, "p": p, "pct": pct, "force": force, "reason": reason, "__provider": "serialized", **extra}


def judged(stage: str, next_stage: str | None, verdict: str = "PASS") -> dict:
    """A domain's entry of the evidence file, as the program passes it."""
    return {"verdict": verdict, "stage": stage, "next_stage": next_stage, "judged_at": "2026-11-30T06:17:00Z"}


def stepped(p: str, pct: float = 100.0, *, after: str, **extra: Any) -> dict:
    """Inputs for a step to (p, pct) that the evidence judged safe after the stage ``after``."""
    return props(p, pct, evidence=judged(after, str(Stage(p, int(pct)))), **extra)


def outputs(p: str, pct: float = 100.0, domain: str = "example.com") -> dict:
    stage = Stage(p, int(pct))
    return {"domain": domain, "p": p, "pct": pct, "force": False, "reason": None, "evidence": None,
            "stage": str(stage), "__provider": "serialized"}


def no_evidence(old: str, new: str, found: str = "the evidence file has no PASS for it") -> str:
    return (f"DMARC for example.com would move from {old} to {new} without evidence that every sender is aligned: "
            f"{found}; {EVIDENCE}, or {FORCE}")


def failures(olds: dict, news: dict) -> list[tuple[str, str]]:
    result = DmarcStageProvider().check(olds, news)
    assert result.inputs == news
    return [(f.property, f.reason) for f in result.failures]


# --- check: where the rule is enforced --------------------------------------------------------------


@pytest.mark.parametrize(
    "olds,news,expected",
    [
        # one step up with a PASS for it, off-ladder stages, staying, moving back
        (props("none"), stepped("quarantine", 10.0, after="p=none"), []),
        (props("quarantine", 10.0), stepped("quarantine", 25.0, after="p=quarantine pct=10"), []),
        (props("quarantine", 25.0), props("quarantine", 30.0, evidence=judged("p=quarantine pct=25", "p=quarantine pct=50")), []),
        (props("quarantine", 100.0), stepped("reject", 25.0, after="p=quarantine"), []),
        (props("reject"), props("reject"), []),
        (props("reject"), props("none"), []),
        (props("reject", 50.0), props("quarantine", 10.0), []),
        # one step up without a PASS for it
        (props("none"), props("quarantine", 10.0), [("p", no_evidence("p=none", "p=quarantine pct=10"))]),
        (props("none"), props("quarantine", 10.0, evidence=judged("p=none", "p=quarantine pct=10", "FAIL")),
         [("p", no_evidence("p=none", "p=quarantine pct=10"))]),
        (props("quarantine", 10.0), stepped("quarantine", 25.0, after="p=none"),
         [("p", no_evidence("p=quarantine pct=10", "p=quarantine pct=25",
                            "the evidence file's PASS was judged at p=none, not at p=quarantine pct=10"))]),
        # too far at once, whatever the evidence says
        (props("none"), props("reject"), [("p", NONE_TO_REJECT)]),
        (props("none"), stepped("reject", after="p=none"), [("p", NONE_TO_REJECT)]),
        (props("quarantine", 10.0), props("quarantine", 50.0),
         [("p", "DMARC for example.com would move from p=quarantine pct=10 to p=quarantine pct=50, 2 steps "
                f"towards enforcement at once; move one step (next: p=quarantine pct=25) or {FORCE}")]),
        # force
        (props("none"), props("reject", force=True), []),
        # first deployment (no old inputs) and a new domain are both first deployments
        ({}, props("none"), []),
        ({}, props("reject"), [("p", FIRST_AT_REJECT)]),
        ({}, props("reject", force=True), []),
        (props("reject", domain="example.org"), props("reject"), [("p", FIRST_AT_REJECT)]),
        # an adopted domain: no state, the live policy is where it starts
        ({}, props("reject", start={"p": "reject", "pct": 100.0}), []),
        ({}, stepped("quarantine", 25.0, after="p=quarantine pct=10", start={"p": "quarantine", "pct": 10.0}), []),
        ({}, props("quarantine", 25.0, start={"p": "quarantine", "pct": 10.0}),
         [("p", no_evidence("p=quarantine pct=10", "p=quarantine pct=25"))]),
        ({}, props("reject", start={"p": "none", "pct": 100.0}), [("p", NONE_TO_REJECT)]),
        ({}, props("none", start={"p": "reject", "pct": 100.0}), []),  # lowering: refused earlier, by the pre-flight
        # with state, the state decides whatever the live policy was
        (props("none"), props("reject", start={"p": "reject", "pct": 100.0}), [("p", NONE_TO_REJECT)]),
    ],
)
def test_check_enforces_the_ladder(olds: dict, news: dict, expected: list[tuple[str, str]]) -> None:
    assert failures(olds, news) == expected


@pytest.mark.parametrize(
    "news,expected",
    [
        (props("block"), [("p", "p: must be one of none, quarantine, reject, not 'block'")]),
        (props("reject", 0.0), [("pct", "pct: must be a whole number 1..100, not 0")]),
        (props("none", 50.0),
         [("pct", "pct: applies only to p=quarantine or p=reject; remove it (or set 100) with p=none")]),
        (props("none", domain=""), [("domain", "must be the domain name the DMARC record is for")]),
        ({**props("none"), "force": True}, [("reason", "a forced DMARC step needs a reason (dmarc.reason), kept in the state")]),
        ({**props("none", force=True), "reason": "  "},
         [("reason", "a forced DMARC step needs a reason (dmarc.reason), kept in the state")]),
        (props("none", evidence={"verdict": "PASS"}),
         [("evidence", "must be the domain's entry of the evidence file (verdict, stage, next_stage)")]),
        (props("none", evidence=judged("p=none", "p=quarantine pct=1000")),
         [("evidence", "must be the domain's entry of the evidence file (verdict, stage, next_stage)")]),
    ],
)
def test_check_reports_bad_inputs(news: dict, expected: list[tuple[str, str]]) -> None:
    assert failures(props("none"), news) == expected


@pytest.mark.parametrize("field", ["p", "pct", "domain", "force", "reason", "evidence"])
def test_check_waits_for_unknown_values(field: str) -> None:
    news = {**props("reject"), field: UNKNOWN}
    assert failures(props("none"), news) == []


# --- create, diff, update ---------------------------------------------------------------------------


def test_create_outputs_the_stage() -> None:
    result = DmarcStageProvider().create(props("none"))
    assert result.id == "dmarc-example.com"
    assert result.outs == {"domain": "example.com", "p": "none", "pct": 100, "force": False, "reason": None,
                           "evidence": None, "stage": "p=none"}


def test_create_guards_the_first_deployment() -> None:
    with pytest.raises(ValueError) as e:
        DmarcStageProvider().create(props("reject"))
    assert str(e.value) == FIRST_AT_REJECT
    forced = DmarcStageProvider().create(props("reject", force=True)).outs
    assert (forced["stage"], forced["force"], forced["reason"]) == ("p=reject", True, WHY)


@pytest.mark.parametrize(
    "olds,news,changes,replaces",
    [
        (outputs("quarantine", 25.0), props("quarantine", 25), False, []),  # 25.0 == 25
        (outputs("quarantine", 25.0), props("quarantine", 25.0, force=True), False, []),  # force alone: no change
        (outputs("quarantine", 25.0), props("quarantine", 25.0, evidence=judged("p=quarantine pct=25", None)), False, []),
        (outputs("quarantine", 25.0), props("quarantine", 50.0), True, []),
        (outputs("quarantine"), props("reject"), True, []),
        (outputs("none"), props("none", domain="example.org"), True, ["domain"]),
        (outputs("none"), props(UNKNOWN), True, []),
    ],
)
def test_diff(olds: dict, news: dict, changes: bool, replaces: list[str]) -> None:
    result = DmarcStageProvider().diff("dmarc-example.com", olds, news)
    assert (result.changes, result.replaces, result.delete_before_replace) == (changes, replaces, False)


def test_update_moves_one_step() -> None:
    news = stepped("quarantine", after="p=quarantine pct=50")
    result = DmarcStageProvider().update("dmarc-example.com", outputs("quarantine", 50.0), news)
    assert result.outs == {"domain": "example.com", "p": "quarantine", "pct": 100, "force": False, "reason": None,
                           "evidence": judged("p=quarantine pct=50", "p=quarantine"), "stage": "p=quarantine"}


def test_update_refuses_a_step_without_evidence_as_a_guard() -> None:
    with pytest.raises(ValueError) as e:
        DmarcStageProvider().update("dmarc-example.com", outputs("quarantine", 50.0), props("quarantine"))
    assert str(e.value) == no_evidence("p=quarantine pct=50", "p=quarantine")


def test_update_refuses_too_far_as_a_guard() -> None:
    with pytest.raises(ValueError) as e:
        DmarcStageProvider().update("dmarc-example.com", outputs("none"), props("reject"))
    assert str(e.value) == NONE_TO_REJECT


def test_update_moves_back_and_forced() -> None:
    provider = DmarcStageProvider()
    assert provider.update("id", outputs("reject"), props("none")).outs["stage"] == "p=none"
    forced = provider.update("id", outputs("none"), props("reject", force=True)).outs
    assert (forced["force"], forced["reason"]) == (True, WHY)
    # the reason is kept only with force
    assert provider.update("id", outputs("reject"), {**props("none"), "reason": WHY}).outs["reason"] is None


# --- pickling and the resource ----------------------------------------------------------------------


def test_provider_pickles_with_dill() -> None:
    provider = dill.loads(dill.dumps(DmarcStageProvider(), recurse=True))
    assert provider.check(props("none"), props("reject")).failures[0].reason == NONE_TO_REJECT


def test_provider_unpickles_and_works_in_a_fresh_interpreter() -> None:
    script = (
        "import base64, sys, dill\n"
        "p = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "r = p.check({'domain': 'example.com', 'p': 'none', 'pct': 100.0},"
        " {'domain': 'example.com', 'p': 'reject', 'pct': 100.0, 'force': False})\n"
        "print(r.failures[0].reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=serialize_provider(DmarcStageProvider()), capture_output=True,
        text=True, cwd=ROOT, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == NONE_TO_REJECT


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.inputs[args.name] = dict(args.inputs)
        return f"{args.name}-id", {**args.inputs, "stage": "p=none"}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def test_resource_sends_stage_inputs() -> None:
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    observed: list[Any] = []

    @pulumi.runtime.test
    def check() -> pulumi.Output:
        stage = DmarcStage("dmarc", domain="example.com", p="none")
        return pulumi.Output.all(stage.stage, stage.p).apply(observed.extend)

    check()
    assert observed == ["p=none", "none"]
    sent = mocks.inputs["dmarc"]
    assert {k: sent[k] for k in ("domain", "p", "pct", "force")} == {
        "domain": "example.com", "p": "none", "pct": 100, "force": False,
    }
