"""``dmarc propose``: take the step the evidence judged safe, by editing the stack file.

For each domain whose entry in the evidence file is a PASS judged at the stage the stack file sets, the domain's
``dmarc.p`` and ``dmarc.pct`` are set to the judged next stage, in place: only those scalars change (a ``pct``
line is added under ``p`` when there was none), so comments, order and quoting elsewhere stay as they were and
the pull request shows two lines per domain. The edited text is read back through the stack's own checks and
must give exactly the old settings with the new stages; otherwise nothing is written and the domain is
reported for a hand edit (a flow-style ``dmarc: {p: none}`` mapping, for one). The file is written atomically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from sending_domain.core.config import parse_settings
from sending_domain.core.dmarc import Stage
from sending_domain.core.evidence_file import Judgement
from sending_domain.core.settings import StackSettings
from sending_domain.stack import SETTINGS_KEY, LoadedStack

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Proposal:
    """One domain's next stage: ``proposed`` (the stack file now says so) or ``manual`` (edit it by hand)."""

    domain: str
    stage: str
    next_stage: str
    status: str
    note: str = ""

    def as_json(self) -> dict[str, str | None]:
        return {"domain": self.domain, "stage": self.stage, "next_stage": self.next_stage, "status": self.status,
                "note": self.note or None}


def steps_to_take(stack: StackSettings, judged: Mapping[str, Judgement], domains: Sequence[str]) -> dict[str, Stage]:
    """Domain → next stage, for each of ``domains`` with a PASS judged at the stage the stack sets today."""
    steps: dict[str, Stage] = {}
    for name in domains:
        passed = judged[name].passed if name in judged else None
        settings = stack.domain(name)
        if passed is not None and passed[0] == Stage(settings.dmarc.p, settings.dmarc.pct):
            steps[name] = passed[1]
    return steps


def propose(loaded: LoadedStack, steps: Mapping[str, Stage]) -> list[Proposal]:
    """Edit the stack file for ``steps``; one :class:`Proposal` per domain, in the stack's order."""
    from sending_domain.spf_lock import write_atomically

    text = loaded.path.read_text(encoding="utf-8")
    index = {d.domain: i for i, d in enumerate(loaded.settings.domains)}
    root = yaml.compose(text, Loader=_LOADER)
    edits: list[tuple[int, int, str]] = []
    manual: dict[str, str] = {}
    for name, stage in steps.items():
        try:
            edits += _edits(text, _dmarc_node(root, index[name]), stage)
        except _CannotEdit as e:
            manual[name] = str(e)
    edited = _apply(text, edits)
    done = [name for name in steps if name not in manual]
    if done and not _reads_back(edited, loaded.settings, {name: steps[name] for name in done}):
        manual.update({name: "the edited file did not read back as expected; edit dmarc.p and dmarc.pct by hand" for name in done})
        done = []
    if done:
        write_atomically(loaded.path, edited)
    proposals = []
    for name in sorted(steps, key=index.__getitem__):
        current = loaded.settings.domain(name).dmarc
        status = "manual" if name in manual else "proposed"
        proposals.append(Proposal(name, str(Stage(current.p, current.pct)), str(steps[name]), status, manual.get(name, "")))
    return proposals


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with each ``(start, end, replacement)`` made (the spans do not overlap), in one pass."""
    pieces, at = [], 0
    for start, end, new in sorted(edits):
        pieces += [text[at:start], new]
        at = end
    return "".join([*pieces, text[at:]])


class _CannotEdit(Exception):
    """Why a domain's stage cannot be edited in place."""


def _edits(text: str, dmarc: yaml.MappingNode, stage: Stage) -> list[tuple[int, int, str]]:
    """The text edits (start, end, replacement) that set the ``dmarc`` mapping to ``stage``."""
    if dmarc.flow_style:
        raise _CannotEdit("its dmarc mapping is written in flow style ({...}); edit dmarc.p and dmarc.pct by hand")
    p_key, p_value = _entry(dmarc, "p")  # type: ignore[misc]  # _dmarc_node checked that p is there
    pct = _entry(dmarc, "pct")
    edits = [(p_value.start_mark.index, p_value.end_mark.index, stage.p)]
    if pct is not None:
        edits.append((pct[1].start_mark.index, pct[1].end_mark.index, str(stage.pct)))
    elif stage.pct != 100:
        line_end = text.find("\n", p_value.end_mark.index)
        line_end = len(text) if line_end < 0 else line_end
        newline = "\r\n" if text[line_end - 1:line_end] == "\r" else "\n"
        at = line_end - (len(newline) - 1)
        edits.append((at, at, f"{newline}{' ' * p_key.start_mark.column}pct: {stage.pct}"))
    return edits


def _dmarc_node(root: yaml.Node | None, position: int) -> yaml.MappingNode:
    node = root
    for key in ("config", SETTINGS_KEY, "domains"):
        found = _entry(node, key) if isinstance(node, yaml.MappingNode) else None
        if found is None:
            raise _CannotEdit(f"the stack file has no {key} where it was read from")
        node = found[1]
    if not isinstance(node, yaml.SequenceNode) or position >= len(node.value):
        raise _CannotEdit("the stack file's domains list changed while it was read")
    found = _entry(node.value[position], "dmarc")
    if found is None or not isinstance(found[1], yaml.MappingNode) or _entry(found[1], "p") is None:
        raise _CannotEdit("its dmarc policy is not a mapping with p; edit it by hand")
    return found[1]


def _entry(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _reads_back(text: str, old: StackSettings, steps: Mapping[str, Stage]) -> bool:
    """True when ``text`` holds ``old`` with exactly ``steps`` taken."""
    try:
        raw = yaml.load(text, Loader=_LOADER)["config"][SETTINGS_KEY]
        new = parse_settings(raw)
    except Exception:  # noqa: BLE001 - any failure to read back means: do not write
        return False
    expected = tuple(
        dataclasses.replace(d, dmarc=dataclasses.replace(d.dmarc, p=steps[d.domain].p, pct=steps[d.domain].pct))
        if d.domain in steps else d
        for d in old.domains
    )
    return new == dataclasses.replace(old, domains=expected)
