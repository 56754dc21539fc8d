"""The sending-domain Pulumi program; see components/program.py (config → checked settings → resources)."""

from pathlib import Path

import pulumi

from components.program import run
from sending_domain.desired import evidence_path, lock_path

settings = pulumi.Config("sending-domain").require_object("settings")
stacks = Path(__file__).resolve().parent / "stacks"
run(settings, lock_file=lock_path(stacks), evidence_file=evidence_path(stacks))
