"""Entry point of the ``sending-domain`` command: parse arguments, run one command, map errors to exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sending_domain import __version__
from sending_domain.core.errors import SendingDomainError


def build_parser() -> argparse.ArgumentParser:
    from sending_domain.cli import drift as drift_cmd
    from sending_domain.cli import plan as plan_cmd
    from sending_domain.cli import spf as spf_cmd
    from sending_domain.cli import verify as verify_cmd

    parser = argparse.ArgumentParser(
        prog="sending-domain",
        description="Provision and verify email sending domains: flattened SPF, DKIM, staged DMARC, SES.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (plan_cmd, spf_cmd, verify_cmd, drift_cmd):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 2 for bad usage, 0 for --help
        return int(e.code or 0)
    try:
        return int(args.func(args) or 0)
    except SendingDomainError as e:
        print(f"sending-domain: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("sending-domain: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
