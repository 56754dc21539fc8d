"""Docs cannot drift from the CLI: every ``sending-domain ...`` line in README.md and docs/*.md must parse.

Command lines come from fenced code blocks (each shell command of a line: ``&&``, ``;`` and ``|`` separate
them; ``\\`` continues a line; ``$ `` prompts, ``.venv/bin/`` prefixes and ``VAR=value`` assignments are
skipped) and from inline code spans. Synopses, written in inline code (``--stack NAME | --config FILE``,
``[--json|--markdown]``, ``--update\\|--check`` in a table), are expanded into every concrete variant: each
optional part left out or given, each alternative in turn. Each variant goes through
``build_parser().parse_args`` — argparse only, nothing runs.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from sending_domain.cli.main import build_parser
from sending_domain.core import config, config_reports

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
SOURCES = [ROOT / "README.md", *DOCS]
EXPECTED_DOCS = ("getting-started", "gitops", "runbooks", "spf-flattening", "scaling", "stack-reference")
PROGRAM = "sending-domain"
_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_SHELL_SPLIT = re.compile(r"\s*(?:&&|\|\||;|(?<!\\)\|)\s*")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
_SHELL_VAR = re.compile(r"^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$")
_REDIRECT = re.compile(r"^(\d?>>?|<|\d?>&\d|&>)")


@dataclass(frozen=True)
class Found:
    where: str  # file:line
    text: str  # from "sending-domain" on

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


# --- finding command lines ------------------------------------------------------------------------------


def code_blocks(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line inside a fenced code block."""
    fence = ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line.strip())
        if match and (not fence or (match[1][0] == fence[0] and len(match[1]) >= len(fence) and not match[2].strip())):
            fence = "" if fence else match[1]
            continue
        if fence:
            yield number, line


def shell_commands(line: str) -> Iterator[str]:
    """The ``sending-domain`` commands of one shell line, each from the program name on."""
    line = line.strip()
    line = line[2:] if line.startswith("$ ") else line
    if line.startswith("#"):
        return
    for part in _SHELL_SPLIT.split(line):
        words = part.split()
        while words and _ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words and (words[0] == PROGRAM or words[0].endswith("/" + PROGRAM)):
            yield " ".join([PROGRAM, *words[1:]])


def commands_in(path: Path) -> list[Found]:
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(ROOT)
    found = [Found(f"{name}:{n}", cmd) for n, line in _joined(code_blocks(text)) for cmd in shell_commands(line)]
    outside = _without_code_blocks(text)
    for number, line in enumerate(outside.splitlines(), start=1):
        for span in _INLINE.findall(line):
            words = span.replace("\\|", "|").split()
            if len(words) > 1 and words[0] == PROGRAM:  # the bare name is a mention, not a command
                found.append(Found(f"{name}:{number}", " ".join(words)))
    return found


def _joined(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Lines with their ``\\`` continuations joined, numbered by their first line."""
    start, parts = 0, []
    for number, line in lines:
        start = start or number
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        yield start, " ".join([*parts, line])
        start, parts = 0, []
    if parts:
        yield start, " ".join(parts)


def _without_code_blocks(text: str) -> str:
    """``text`` with fenced blocks blanked, keeping line numbers."""
    inside = {n for n, _ in code_blocks(text)}
    return "\n".join("" if n in inside or _FENCE.match(line.strip()) else line
                     for n, line in enumerate(text.splitlines(), start=1))


# --- synopsis → concrete argument lists -----------------------------------------------------------------

Item = str | tuple  # a word, or ("opt" | "alt", [alternative word sequences])
MAX_VARIANTS = 200


def tokens(text: str) -> list[Item]:
    """Words and ``[``/``]``/``|`` grouping tokens; ``a|b`` inside one word is an alternative of words.

    Brackets inside a word (``HOST[:PORT]``) stay part of it; a trailing ``...`` (repeatable) is dropped.
    """
    out: list[Item] = []
    for word in shlex.split(text, comments=True):
        word = word[:-3] if word.endswith("...") else word
        lead = len(word) - len(word.lstrip("["))
        out += ["["] * lead
        word = word[lead:]
        trail = 0
        while word.endswith("]") and word.count("[") < word.count("]"):
            word, trail = word[:-1], trail + 1
        if word == "|":
            out.append("|")
        elif "|" in word:
            out.append(("alt", [[alt] for alt in word.split("|")]))
        elif word:
            out.append(word)
        out += ["]"] * trail
    return out


def parse_synopsis(items: list[Item]) -> list[Item]:
    """Nest ``[ ... ]`` into ("opt", alternatives) and `` | `` into alternatives of the enclosing group."""
    stack: list[list[list[Item]]] = [[[]]]  # per open group: its alternatives so far
    for item in items:
        if item == "[":
            stack.append([[]])
        elif item == "]":
            group = stack.pop()
            stack[-1][-1].append(("opt", group))
        elif item == "|":
            stack[-1].append([])
        else:
            stack[-1][-1].append(item)
    assert len(stack) == 1, f"unbalanced brackets in {items}"
    top = stack[0]
    return top[0] if len(top) == 1 else [("alt", top)]


def expand(seq: list[Item]) -> list[list[str]]:
    """Every concrete word list: each optional part left out or given, each alternative in turn."""
    results: list[list[str]] = [[]]
    for item in seq:
        if isinstance(item, str):
            options = [[item]]
        else:
            kind, alternatives = item
            options = ([[]] if kind == "opt" else []) + [v for alt in alternatives for v in expand(alt)]
        results = [r + o for r in results for o in options]
        assert len(results) <= MAX_VARIANTS, "synopsis too rich to check"
    return results


def argument_lists(command: str) -> list[list[str]]:
    items = [("x" if isinstance(w, str) and _SHELL_VAR.match(w) else w) for w in tokens(command)]
    cut = next((i for i, w in enumerate(items) if isinstance(w, str) and _REDIRECT.match(w)), len(items))
    return expand(parse_synopsis(items[1:cut]))  # without the program name and any redirection


def parse_error(argv: list[str]) -> str | None:
    """argparse's complaint about ``argv``, or None when it parses."""
    parser = build_parser()
    messages: list[str] = []

    def error(message: str) -> NoReturn:
        messages.append(message)
        raise SystemExit(2)

    _patch(parser, error)
    try:
        parser.parse_args(argv)
    except SystemExit as e:  # --version and --help exit 0 once parsed
        return messages[0] if messages else (None if e.code == 0 else f"exited with {e.code}")
    return None


def _patch(parser: argparse.ArgumentParser, error: Callable[[str], NoReturn]) -> None:
    """Make ``parser`` and all its subcommand parsers report errors to ``error`` instead of exiting."""
    parser.error = error  # type: ignore[method-assign]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _patch(sub, error)


ALL = [found for path in SOURCES for found in commands_in(path)]


# --- tests ----------------------------------------------------------------------------------------------


def test_every_doc_the_readme_promises_exists() -> None:
    assert {p.stem for p in DOCS} >= set(EXPECTED_DOCS)


def test_commands_were_found_in_every_doc_with_commands() -> None:
    where = {f.where.split(":")[0] for f in ALL}
    assert "README.md" in where
    for name in ("getting-started", "gitops", "runbooks", "spf-flattening"):
        assert f"docs/{name}.md" in where, name
    assert len(ALL) > 30


@pytest.mark.parametrize("found", ALL, ids=str)
def test_documented_command_parses(found: Found) -> None:
    for argv in argument_lists(found.text):
        assert parse_error(argv) is None, f"{found}\n  as {argv}: {parse_error(argv)}"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sending-domain plan --stack NAME [--format table|json|zone]",
         [["plan", "--stack", "NAME"], ["plan", "--stack", "NAME", "--format", "table"],
          ["plan", "--stack", "NAME", "--format", "json"], ["plan", "--stack", "NAME", "--format", "zone"]]),
        ("sending-domain spf lock --update|--check --stack NAME",
         [["spf", "lock", "--update", "--stack", "NAME"], ["spf", "lock", "--check", "--stack", "NAME"]]),
        ("sending-domain drift [--stack NAME | --config FILE] [--nameserver HOST[:PORT]]...",
         [["drift"], ["drift", "--nameserver", "HOST[:PORT]"], ["drift", "--stack", "NAME"],
          ["drift", "--stack", "NAME", "--nameserver", "HOST[:PORT]"], ["drift", "--config", "FILE"],
          ["drift", "--config", "FILE", "--nameserver", "HOST[:PORT]"]]),
        ('sending-domain drift --stack "$STACK" --markdown > drift.md', [["drift", "--stack", "x", "--markdown"]]),
    ],
)
def test_synopsis_expansion(line: str, expected: list[list[str]]) -> None:
    assert argument_lists(line) == expected


def test_a_wrong_flag_in_the_docs_would_be_caught() -> None:
    assert parse_error(["plan", "--stack", "dev", "--format", "yaml"]) is not None
    assert parse_error(["spf", "lock", "--refresh"]) is not None
    assert parse_error(["drift", "--stack", "dev", "--markdown"]) is None


def test_shell_lines_are_split_into_commands() -> None:
    line = "$ STACK=dev .venv/bin/sending-domain plan --stack dev && sending-domain drift --json | jq . ; echo sending-domain"
    assert list(shell_commands(line)) == ["sending-domain plan --stack dev", "sending-domain drift --json"]


# --- the stack reference lists every key and every problem code -----------------------------------------


def config_keys() -> set[str]:
    keys = {k for name in dir(config) if name.startswith("_") and name.endswith("_KEYS") for k in getattr(config, name)}
    return keys | set(config_reports.REPORTS_KEYS) | set(config_reports.RULE_SET_KEYS)


def problem_codes() -> set[str]:
    """Every stable problem code the stack loader can report, read from its source with ``ast``.

    ``add(path, "code", message)`` and ``Problem(path, "code", message)`` calls, and the ``("code", message)``
    reasons the ``*_reason`` checks return.
    """
    codes: set[str] = set()
    core = ROOT / "sending_domain" / "core"
    for path in [*sorted(core.glob("config*.py")), ROOT / "sending_domain" / "stack.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) in ("add", "Problem") and len(node.args) >= 2:
                codes |= _code(node.args[1])
            elif isinstance(node, ast.Return) and node.value is not None:
                for sub in ast.walk(node.value):
                    if isinstance(sub, ast.Tuple) and len(sub.elts) == 2:
                        codes |= _code(sub.elts[0])
    return codes


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _code(node: ast.expr) -> set[str]:
    ok = isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[a-z][a-z0-9-]*", node.value)
    return {node.value} if ok else set()  # type: ignore[union-attr]


def test_stack_reference_lists_every_key_and_problem_code() -> None:
    text = (ROOT / "docs" / "stack-reference.md").read_text(encoding="utf-8")
    assert config_keys() >= {"domain", "zoneId", "maxLookups", "behaviorOnMxFailure", "force"}
    missing_keys = sorted(k for k in config_keys() if f"`{k}`" not in text)
    assert missing_keys == []
    codes = problem_codes()
    assert codes >= {"unknown-key", "dkim-active-count", "mailfrom-collision", "yaml-duplicate-key", "spf-pass-all"}
    assert sorted(c for c in codes if f"`{c}`" not in text) == []


# --- links between the docs resolve ---------------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower-case, punctuation dropped, spaces as hyphens."""
    text = _without_code_blocks(path.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    broken = []
    for target in _LINK.findall(_without_code_blocks(path.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part) if file_part else path
        if not linked.exists() or (anchor and anchor not in anchors(linked)):
            broken.append(target)
    assert broken == []
