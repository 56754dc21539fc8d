"""The sending-domain Pulumi program; see components/program.py (config → checked settings → resources)."""

from pathlib import Path

import pulumi

from components.program import run
from sending_domain.desired import lock_path

settings = pulumi.Config("sending-domain").require_object("settings")
run(settings, lock_file=lock_path(Path(__file__).resolve().parent / "stacks"))
