"""DKIM public keys from the stack's outputs (``pulumi stack output --json > outputs.json``).

The shape read (one object per sending domain, keyed by the domain)::

    {
      "example.com": {
        "dkim": {
          "s2026a": {"public_key": "MIIBIjANBgkqh...", "algorithm": "rsa-2048"},
          "ed2026a": {"public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}
        }
      }
    }

Tolerated variations (the Pulumi program is written separately; any of these reads the same):

- the per-domain objects under a top-level ``"domains"`` key: ``{"domains": {"example.com": {...}}}``;
- ``dkim`` as a list of ``{"selector": ..., "public_key": ...}`` objects;
- ``dkim[selector]`` as the public key string itself;
- ``publicKey`` or ``p`` instead of ``public_key``;
- domain names in any case, with or without a trailing dot.

Everything else in the file is ignored; secret outputs (``"[secret]"`` without ``--show-secrets``, or a
private key with it) are never read, kept or echoed. A public key that is not base64 is bad input.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path

from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.records import is_hostname, normalize_name

PUBLIC_KEY_FIELDS = ("public_key", "publicKey", "p")
DkimPublic = dict[tuple[str, str], str]


def read_outputs(path: str | Path) -> DkimPublic:
    """``(domain, selector) → public key`` from an outputs file. Raises ConfigError naming the problem."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(Problem("", "outputs-unreadable", f"cannot read --outputs {path}: {e.strerror or e}"), source=source) from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(
            Problem("", "outputs-json", f"--outputs is not JSON ({e.msg} at line {e.lineno}); write it with `pulumi stack output --json`"),
            source=source,
        ) from None
    return dkim_public_keys(data, source=source)


def dkim_public_keys(data: object, *, source: str = "") -> DkimPublic:
    """The public keys in parsed outputs (see the module docstring for the shape)."""
    if not isinstance(data, Mapping):
        raise ConfigError(Problem("", "outputs-shape", "the outputs must be a JSON object keyed by output name"), source=source)
    domains = data.get("domains") if isinstance(data.get("domains"), Mapping) else data
    found: DkimPublic = {}
    problems: list[Problem] = []
    for domain, entry in domains.items():
        if not isinstance(domain, str) or not isinstance(entry, Mapping) or not is_hostname(domain):
            continue
        for selector, key in _keys(entry.get("dkim")):
            path = f"{domain}.dkim.{selector}"
            if not _is_base64(key):
                problems.append(Problem(path, "outputs-public-key", "public_key is not base64; pass the output of `pulumi stack output --json`"))
                continue
            found[(normalize_name(domain), selector)] = key
    if problems:
        raise ConfigError(problems, source=source)
    return found


def _keys(dkim: object) -> list[tuple[str, str]]:
    items: list[tuple[str, object]] = []
    if isinstance(dkim, Mapping):
        items = [(str(s), v) for s, v in dkim.items()]
    elif isinstance(dkim, list):
        items = [(str(v.get("selector")), v) for v in dkim if isinstance(v, Mapping) and v.get("selector")]
    out = []
    for selector, value in items:
        key = value if isinstance(value, str) else _public_field(value)
        if key is not None and key != "[secret]":
            out.append((selector, "".join(key.split())))
    return out


def _public_field(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return None
    return next((value[f] for f in PUBLIC_KEY_FIELDS if isinstance(value.get(f), str)), None)


def _is_base64(text: str) -> bool:
    try:
        return bool(text) and bool(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return False
