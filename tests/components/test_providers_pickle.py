"""The dynamic providers, pickled as Pulumi pickles them, load in a fresh process started in another folder.

Pulumi stores each dynamic resource's provider in the state as ``dill`` bytes (``serialize_provider``); the
dynamic-provider process (``python -m pulumi.dynamic``) loads them to run create/update/delete, and on a
refresh or destroy it loads the bytes stored by an earlier deployment. The classes are pickled by reference
to their module, so that module must import in the provider process wherever it starts: ``components`` is a
package of the distribution (pyproject.toml), installed into the project's virtualenv.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.dkim_key import DkimKeyProvider
from components.dmarc_stage import DmarcStageProvider
from components.dns_record_removal import DnsRecordRemovalProvider

LOAD = """
import base64, sys, dill
provider = dill.loads(base64.b64decode(sys.stdin.read()))
print(type(provider).__module__ + "." + type(provider).__qualname__)
"""


@pytest.mark.parametrize("provider", [DkimKeyProvider(), DmarcStageProvider(), DnsRecordRemovalProvider()],
                         ids=lambda p: type(p).__name__)
def test_a_pickled_provider_loads_in_a_process_started_elsewhere(provider: object, tmp_path: Path) -> None:
    pickled = serialize_provider(provider)  # type: ignore[arg-type]
    assert type(provider).__module__.encode() in base64.b64decode(pickled)  # pickled by reference to its module
    done = subprocess.run(
        [sys.executable, "-I", "-c", LOAD], input=pickled, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{type(provider).__module__}.{type(provider).__qualname__}"
