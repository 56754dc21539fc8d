"""DmarcStage: a Pulumi dynamic resource that remembers the deployed DMARC stage and guards its moves.

It holds no remote object; its state is the stage (``p``, ``pct``) last deployed for a domain. Its provider
refuses a move of more than one ladder rung towards enforcement, a first deployment above ``p=none``, and a
step towards enforcement without evidence (``evidence``: the domain's latest verdict in the reviewed evidence
file, :mod:`sending_domain.core.evidence_file`, which must be a PASS judged at the deployed stage), unless
``force`` is true with a ``reason`` (the rule and the ladder live in :mod:`sending_domain.core.dmarc`). Moving
back is always allowed. The state keeps how the deployed stage was reached: ``force``, its ``reason``, and the
domain's ``evidence`` entry when the stage was deployed (a later deployment that keeps the stage changes none of
them). A domain adopted with a live DMARC record has no state yet: its ``start`` input (the stage
receivers apply today, ``{"p": ..., "pct": ...}``) stands in for the old stage, so adopting ``p=reject`` with a
stack at ``p=reject`` is a no-op rather than a refused first deployment. ``start`` alone never changes the
resource (a later deployment has its own old stage). Make the ``_dmarc`` TXT record depend on this resource
so a refused move publishes nothing.

Where it is enforced: in ``check``. The engine calls ``check(old inputs, new inputs)`` first for every
resource, in ``pulumi preview`` as well as in ``pulumi up``, before any create/update of this resource or
of what depends on it, and reports a check failure with the reason and the property (``p``). ``diff`` only
reports what changed (it cannot fail a step politely), and ``update`` re-checks against the old outputs as a
guard in case the engine ever skips ``check``.

Outputs: ``domain``, ``p``, ``pct``, ``force``, ``reason``, ``evidence``, ``stage`` (e.g. ``p=quarantine pct=25``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult

if TYPE_CHECKING:
    from sending_domain.core.dmarc import Stage
    from sending_domain.core.evidence_file import Judgement

STAGE_PROPS: tuple[str, ...] = ("domain", "p", "pct")
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # pulumi.runtime.rpc.UNKNOWN: a value not known at preview


class DmarcStageProvider(ResourceProvider):
    """Refuses too large a step towards enforcement in ``check``; see the module docstring."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        if any(_is_unknown(news.get(prop)) for prop in (*STAGE_PROPS, "force", "reason", "evidence", "start")):
            return CheckResult(news, [])  # decided when the values are known, in the `up` run's check
        failures = [CheckFailure(prop, reason) for prop, reason in field_problems(news)]
        if not failures:
            reason = transition_reason(olds, news)
            if reason:
                failures.append(CheckFailure("p", reason))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        _raise_if_refused({}, props)
        return CreateResult(f"dmarc-{props['domain']}", stage_outputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """A change of p or pct updates; a new domain replaces. ``force`` alone changes nothing."""
        changed = [prop for prop in STAGE_PROPS if _differs(olds.get(prop), news.get(prop))]
        replaces = [prop for prop in changed if prop == "domain"]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _raise_if_refused(olds, news)
        return UpdateResult(stage_outputs(news))


def field_problems(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with the stage inputs, as ``(property, reason)``."""
    from sending_domain.core import dmarc

    problems: list[tuple[str, str]] = []
    domain = props.get("domain")
    if not isinstance(domain, str) or not domain:
        problems.append(("domain", "must be the domain name the DMARC record is for"))
    pct = _num(props.get("pct", 100))
    problems += [(sub, f"{sub}: {reason}") for sub, reason in dmarc.stage_problems(props.get("p"), pct)]
    reason = props.get("reason")
    if props.get("force") and (not isinstance(reason, str) or not reason.strip()):
        problems.append(("reason", "a forced DMARC step needs a reason (dmarc.reason), kept in the state"))
    try:
        _passed(props.get("evidence"))
    except ValueError:
        problems.append(("evidence", "must be the domain's entry of the evidence file (verdict, stage, next_stage)"))
    return problems


def transition_reason(olds: Mapping[str, Any], news: Mapping[str, Any]) -> str | None:
    """The core's refusal for moving from the stage in ``olds`` to the one in ``news``, or None.

    ``olds`` without a stage, or for another domain, is a first deployment: it starts from ``news["start"]``
    (the live stage of an adopted domain) when there is one. Call it once :func:`field_problems` found none.
    """
    from sending_domain.core import dmarc

    new = _stage(news)
    same_domain = olds.get("domain") == news.get("domain")
    old = _stage(olds) if same_domain and olds.get("p") is not None else None
    start = news.get("start")
    if old is None and isinstance(start, Mapping) and start.get("p") is not None:
        old = _stage(start)
    return dmarc.check_transition(old, new, force=bool(news.get("force")), domain=str(news["domain"]),
                                  passed=_passed(news.get("evidence")))


def _passed(evidence: Any) -> tuple[Stage, Stage] | None:
    """The step a PASS in ``evidence`` admits (None without one); ValueError when it is no evidence entry."""
    from sending_domain.core.evidence_file import Judgement

    if evidence is None:
        return None
    try:
        return Judgement(evidence["verdict"], evidence["stage"], evidence.get("next_stage"), evidence["judged_at"]).passed
    except (TypeError, KeyError, AttributeError) as e:
        raise ValueError(f"not an evidence entry: {e}") from None


def stage_outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    stage = _stage(props)
    force = bool(props.get("force"))
    return {"domain": props["domain"], "p": stage.p, "pct": stage.pct, "force": force,
            "reason": props.get("reason") if force else None, "evidence": props.get("evidence"), "stage": str(stage)}


def _raise_if_refused(olds: Mapping[str, Any], news: Mapping[str, Any]) -> None:
    problems = field_problems(news)
    reason = "; ".join(reason for _, reason in problems) or transition_reason(olds, news)
    if reason:
        raise ValueError(reason)


def _stage(props: Mapping[str, Any]) -> Stage:
    from sending_domain.core import dmarc

    return dmarc.Stage(props["p"], _num(props.get("pct", 100)))


def _num(value: Any) -> Any:
    """Pulumi sends numbers as floats: 25.0 → 25."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _differs(old: Any, new: Any) -> bool:
    return _is_unknown(new) or _num(old) != _num(new)


def _is_unknown(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_is_unknown(v) for v in value)
    if isinstance(value, Mapping):
        return any(_is_unknown(v) for v in value.values())
    return value == _UNKNOWN


class DmarcStage(pulumi.dynamic.Resource, module="sending-domain", name="DmarcStage"):
    """The deployed DMARC stage of one domain; refuses too large a step towards enforcement."""

    domain: pulumi.Output[str]
    p: pulumi.Output[str]
    pct: pulumi.Output[int]
    force: pulumi.Output[bool]
    reason: pulumi.Output[str | None]
    evidence: pulumi.Output[dict[str, Any] | None]
    stage: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        domain: pulumi.Input[str],
        p: pulumi.Input[str],
        pct: pulumi.Input[int] = 100,
        force: pulumi.Input[bool] = False,
        start: Stage | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        reason: str | None = None,
        evidence: Judgement | None = None,
    ) -> None:
        live = {"p": start.p, "pct": start.pct} if start is not None else None
        props: dict[str, Any] = {"domain": domain, "p": p, "pct": pct, "force": force, "reason": reason,
                                 "evidence": evidence.as_input() if evidence is not None else None,
                                 "start": live, "stage": None}
        super().__init__(DmarcStageProvider(), name, props, opts)
