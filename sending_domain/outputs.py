"""Read what a deployment reported: the JSON of ``pulumi stack output --json``.

The program (``components/program.py``) exports one object per domain; the public DKIM keys sit at
``outputs[<domain>]["dkim"][<selector>]["public_key"]``. Nothing secret is exported; a value Pulumi shows
as ``"[secret]"`` is skipped, never kept or echoed. ``plan``, ``verify`` and ``drift`` all read it here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path

from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.records import is_hostname, normalize_name

DkimPublic = dict[tuple[str, str], str]


def read_dkim_public_keys(path: str | Path) -> DkimPublic:
    """(domain, selector) → public key (base64) from a stack-outputs JSON file; ConfigError naming the problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(Problem("", "outputs-unreadable", f"cannot read --outputs {path}: {e.strerror or e}"), source=source) from None
    try:
        data = json.loads(text)
    except ValueError as e:
        message = f"--outputs is not JSON ({getattr(e, 'msg', e)}); write it with `pulumi stack output --json > FILE`"
        raise ConfigError(Problem("", "outputs-json", message), source=source) from None
    return dkim_public_keys(data, source=source)


def dkim_public_keys(data: object, *, source: str = "") -> DkimPublic:
    """The public keys in parsed stack outputs (shape in the module docstring); other outputs are ignored."""
    if not isinstance(data, Mapping):
        raise ConfigError(Problem("", "outputs-shape", "the outputs must be a JSON object keyed by output name"), source=source)
    found: DkimPublic = {}
    problems: list[Problem] = []
    for domain, entry in data.items():
        dkim = entry.get("dkim") if isinstance(entry, Mapping) else None
        if not isinstance(domain, str) or not is_hostname(domain) or not isinstance(dkim, Mapping):
            continue
        for selector, value in dkim.items():
            key = value.get("public_key") if isinstance(value, Mapping) else None
            if not isinstance(key, str) or key in ("", "[secret]"):
                continue
            if not _is_base64(key):
                problems.append(Problem(f"{domain}.dkim.{selector}", "outputs-public-key",
                                        "public_key is not base64; pass the output of `pulumi stack output --json`"))
                continue
            found[(normalize_name(domain), str(selector))] = key
    if problems:
        raise ConfigError(problems, source=source)
    return found


def _is_base64(text: str) -> bool:
    try:
        return bool(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return False
