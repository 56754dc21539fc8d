"""Every error code the command line can print is documented (docs/json.md or docs/stack-reference.md), and the
generic ``invalid`` code does not reach users from the command-line layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((ROOT / "sending_domain" / "cli").glob("*.py")), ROOT / "sending_domain" / "outputs.py",
           ROOT / "sending_domain" / "desired.py", ROOT / "sending_domain" / "stack.py"]


def printed_codes() -> dict[str, set[str]]:
    """code → the files that use it: ``Problem(path, "code", ...)`` and ``Failure("code", ...)`` calls."""
    found: dict[str, set[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            index = {"Problem": 1, "Failure": 0}.get(name)
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and re.fullmatch(r"[a-z][a-z0-9-]*", arg.value):
                found.setdefault(arg.value, set()).add(path.name)
    return found


def test_every_printed_code_is_documented() -> None:
    docs = (ROOT / "docs" / "json.md").read_text(encoding="utf-8") + (ROOT / "docs" / "stack-reference.md").read_text(encoding="utf-8")
    codes = printed_codes()
    assert {"usage", "aws-config", "internal", "outputs-public-key", "unknown-domain"} <= codes.keys()
    assert sorted(c for c in codes if f"`{c}`" not in docs) == []


def test_the_command_line_names_its_own_codes() -> None:
    """A bare ``ConfigError("text")`` prints ``[invalid]``, a code no table explains: the CLI says ``usage`` etc."""
    bare = []
    for path in sorted((ROOT / "sending_domain" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ConfigError" and node.args
                    and isinstance(node.args[0], (ast.Constant, ast.JoinedStr))):
                bare.append(f"{path.name}:{node.lineno}")
    assert bare == []
