"""The core stays pure: no Pulumi, no sockets, no event loop, no environment, no clients."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "sending_domain" / "core"
FORBIDDEN = ("pulumi", "pulumi_aws", "pulumi_cloudflare", "socket", "asyncio", "os", "smtplib", "ssl", "boto3",
             "botocore", "dns.resolver", "dns.asyncresolver", "dns.query", "dns.asyncquery", "dns.asyncbackend",
             "subprocess", "urllib.request", "http")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_nothing_with_side_effects(path: Path) -> None:
    bad = sorted(m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert bad == [], f"{path.name} imports {bad}"
