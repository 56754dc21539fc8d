"""Read what a deployment reported: the JSON of ``pulumi stack output --json``.

The program (``components/program.py``) exports one object per domain; the public DKIM keys sit at
``outputs[<domain>]["dkim"][<selector>]["public_key"]``. Nothing secret is exported; a value Pulumi shows
as ``"[secret]"`` is skipped, never kept or echoed. ``plan``, ``verify`` and ``drift`` all read it here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from sending_domain.core.dkim import parse_dkim_value
from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.records import is_hostname, normalize_name

DkimPublic = dict[tuple[str, str], str]
MAX_OUTPUTS_BYTES = 256 * 2**20  # about 40 times what 40,000 domains with two keys each export
MIN_RSA_BITS = 1024


def read_dkim_public_keys(path: str | Path) -> DkimPublic:
    """(domain, selector) → public key (base64) from a stack-outputs JSON file; ConfigError naming the problem."""
    source = str(path)
    try:
        with Path(path).open("rb") as f:
            size = os.fstat(f.fileno()).st_size  # a regular file's size, so no buffer is larger than the file
            raw = f.read(min(size, MAX_OUTPUTS_BYTES) + 1) if size else f.read(MAX_OUTPUTS_BYTES + 1)
        text = raw.decode("utf-8")
    except OSError as e:
        raise ConfigError(Problem("", "outputs-unreadable", f"cannot read --outputs {path}: {e.strerror or e}"), source=source) from None
    except UnicodeDecodeError as e:
        raise ConfigError(Problem("", "outputs-unreadable", f"--outputs {path} is not UTF-8 text (byte {e.start})"), source=source) from None
    if len(raw) > MAX_OUTPUTS_BYTES:
        message = f"--outputs {path} is larger than {MAX_OUTPUTS_BYTES // 2**20} MiB; it is not a stack's outputs"
        raise ConfigError(Problem("", "outputs-unreadable", message), source=source)
    try:
        data = json.loads(text)
    except RecursionError:
        raise ConfigError(Problem("", "outputs-json", "--outputs is nested too deeply to be a stack's outputs"), source=source) from None
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
            reason = public_key_reason(key, value.get("algorithm"))
            if reason:
                problems.append(Problem(f"{domain}.dkim.{selector}", "outputs-public-key",
                                        f"public_key is not a DKIM public key ({reason}); pass the output of "
                                        "`pulumi stack output --json`"))
                continue
            found[(normalize_name(domain), str(selector))] = key
    if problems:
        raise ConfigError(problems, source=source)
    return found


def public_key_reason(key: str, algorithm: object = None) -> str | None:
    """Why ``key`` is not the base64 public half of a DKIM key of ``algorithm`` (any we make when unknown), or None.

    RSA: a DER SubjectPublicKeyInfo of at least 1024 bits (RFC 6376 §3.6.1, RFC 8301 §3.2); ed25519: the raw
    32-octet key (RFC 8463 §4.2). Parsed the way a DKIM record's ``p=`` is, by the same code.
    """
    name = str(algorithm or "")
    kinds = ("ed25519",) if name == "ed25519" else ("rsa",) if name.startswith("rsa") else ("rsa", "ed25519")
    reasons = []
    for k in kinds:
        try:
            record = parse_dkim_value(f"v=DKIM1; k={k}; p={key}")
        except ValueError as e:
            reasons.append(str(e))
            continue
        if k == "rsa" and (record.bits or 0) < MIN_RSA_BITS:
            reasons.append(f"an RSA key of {record.bits} bits; at least {MIN_RSA_BITS} (RFC 8301 §3.2)")
            continue
        return None
    return "; ".join(dict.fromkeys(reasons))
