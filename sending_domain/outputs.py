"""Read what a deployment reported: the JSON of ``pulumi stack output --json``.

The program exports one object per domain (see ``components/program.py``); the public DKIM keys sit at
``outputs[<domain>]["dkim"][<selector>]["public_key"]``. Nothing secret is ever exported.
"""

from __future__ import annotations

import json
from pathlib import Path

from sending_domain.core.errors import ConfigError


def read_dkim_public_keys(path: str | Path) -> dict[tuple[str, str], str]:
    """(domain, selector) → public key (base64) from a stack-outputs JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"--outputs {path}: cannot read it ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"--outputs {path}: not JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                          "write it with `pulumi stack output --json > FILE`") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--outputs {path}: expected a JSON object of stack outputs")
    keys: dict[tuple[str, str], str] = {}
    for domain, value in data.items():
        dkim = value.get("dkim") if isinstance(value, dict) else None
        if not isinstance(dkim, dict):
            continue
        for selector, entry in dkim.items():
            public = entry.get("public_key") if isinstance(entry, dict) else None
            if isinstance(public, str) and public:
                keys[(domain.lower(), selector)] = public
    return keys
