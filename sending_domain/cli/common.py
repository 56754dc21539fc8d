"""Argument helpers shared by the commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sending_domain.core.errors import ConfigError
from sending_domain.core.records import is_hostname, normalize_name
from sending_domain.core.render import DesiredDomain
from sending_domain.core.spf.lock import SpfLock
from sending_domain.desired import desired_domains, lock_path, read_lock, run_sync
from sending_domain.outputs import read_dkim_public_keys
from sending_domain.stack import LoadedStack, load_stack


def add_nameserver_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nameserver", action="append", default=[], metavar="HOST[:PORT]",
        help="DNS server to ask (repeatable: asked in order, the next when one fails or stays silent); default: the system's resolvers",
    )


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stack", metavar="NAME", help="read stacks/Pulumi.NAME.yaml")
    group.add_argument("--config", metavar="FILE", help="read this stack file")


def domain_argument(text: str, what: str = "DOMAIN") -> str:
    if not is_hostname(text):
        raise ConfigError(f"{what} {text!r} is not a valid domain name")
    return normalize_name(text)


def bounded_int(text: str | int, *, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} {text!r} must be a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} {value} must be from {low} to {high}")
    return value


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def load_stack_from_args(args: argparse.Namespace) -> LoadedStack:
    """The stack named by --stack or --config (one of them is required)."""
    if not args.stack and not args.config:
        raise ConfigError("name a stack: --stack NAME (reads stacks/Pulumi.NAME.yaml) or --config FILE")
    return load_stack(stack=args.stack, config_file=args.config)


def stack_lock_path(loaded: LoadedStack) -> Path:
    return lock_path(loaded.path.parent)


def desired_offline(args: argparse.Namespace) -> tuple[LoadedStack, SpfLock | None, list[DesiredDomain]]:
    """The stack named by the arguments and what it publishes, offline: SPF from the lock, DKIM from --outputs."""
    loaded = load_stack_from_args(args)
    lock = read_lock(stack_lock_path(loaded))
    dkim_public = read_dkim_public_keys(args.outputs) if args.outputs else {}
    return loaded, lock, run_sync(desired_domains(loaded.settings, lock=lock, resolver=None, dkim_public=dkim_public))
