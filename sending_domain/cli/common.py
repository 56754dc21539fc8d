"""Argument helpers shared by the commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.text import printable

if TYPE_CHECKING:  # the rest is imported where it is used: --help and argument errors stay fast
    from pathlib import Path

    from sending_domain.core.render import DesiredDomain
    from sending_domain.core.settings import StackSettings
    from sending_domain.core.spf.lock import SpfLock
    from sending_domain.stack import LoadedStack


def add_nameserver_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nameserver", action="append", default=[], metavar="HOST[:PORT]",
        help="DNS server to ask (repeatable: asked in order, the next when one fails or stays silent); default: the system's resolvers",
    )


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stack", metavar="NAME", help="read stacks/Pulumi.NAME.yaml")
    group.add_argument("--config", metavar="FILE", help="read this stack file")


def add_domain_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--domain", action="append", default=[], metavar="DOMAIN", help=help)


def domain_argument(text: str, what: str = "DOMAIN") -> str:
    """A domain name from the command line, IDN (``bücher.example``) converted to its A-label form."""
    from sending_domain.core.records import is_hostname, normalize_name

    name = to_ascii_name(text)
    if name is None or not is_hostname(name):
        raise ConfigError(Problem("", "hostname", f"{what} {printable(text)!r} is not a valid domain name"))
    return normalize_name(name)


def to_ascii_name(text: str) -> str | None:
    """``text`` with every non-ASCII label as its A-label (``xn--…``); None when that is impossible."""
    from sending_domain.core.idn import to_a_label

    return to_a_label(text)


def chosen_domains(stack: StackSettings, wanted: list[str]) -> list[str]:
    """The stack's domains named by ``--domain`` (all when none is named); an unknown one is bad input."""
    names = [domain_argument(d, "--domain") for d in wanted]
    known = [d.domain for d in stack.domains]
    unknown = [n for n in names if n not in known]
    if unknown:
        message = f"--domain {', '.join(unknown)}: not in the stack (it has {', '.join(sorted(known))})"
        raise ConfigError(Problem("", "unknown-domain", message))
    return [d for d in known if not names or d in names]


def bounded_int(text: str | int, *, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ConfigError(Problem("", "usage", f"{name} {text!r} must be a whole number from {low} to {high}")) from None
    if not low <= value <= high:
        raise ConfigError(Problem("", "usage", f"{name} {value} must be from {low} to {high}"))
    return value


JSON_VERSION = 1  # of every document a command prints with --json (docs/json.md)


def print_json(data: object) -> None:
    """One JSON document on stdout; a mapping without a ``version`` gets :data:`JSON_VERSION` first."""
    if isinstance(data, dict) and "version" not in data:
        data = {"version": JSON_VERSION, **data}
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def load_stack_from_args(args: argparse.Namespace) -> LoadedStack:
    """The stack named by --stack or --config (one of them is required)."""
    from sending_domain.stack import load_stack

    if not args.stack and not args.config:
        raise ConfigError(Problem("", "usage", "name a stack: --stack NAME (reads stacks/Pulumi.NAME.yaml) or --config FILE"))
    return load_stack(stack=args.stack, config_file=args.config)


def stack_lock_path(loaded: LoadedStack) -> Path:
    from sending_domain.desired import lock_path

    return lock_path(loaded.path.parent)


def require_pinned(stack: StackSettings, domains: list[str], lock: SpfLock, *, source: str = "") -> None:
    """Every sender the chosen domains include that the lock does not pin, in one error (not one per run)."""
    from sending_domain.core.render import spf_root_text
    from sending_domain.core.spf.lock import lock_terms
    from sending_domain.core.spf.terms import parse_record

    terms = {t for d in stack.domains if d.domain in domains for t in lock_terms(d.domain, parse_record(spf_root_text(d), d.domain))}
    lock.snapshot(sorted(t for t in terms if t not in lock.entries), source=source)  # raises naming each missing one


def desired_offline(args: argparse.Namespace) -> tuple[LoadedStack, SpfLock | None, list[DesiredDomain]]:
    """The stack named by the arguments and what it publishes, offline: SPF from the lock, DKIM from --outputs."""
    from sending_domain.desired import desired_domains, read_lock, run_sync
    from sending_domain.outputs import read_dkim_public_keys
    from sending_domain.spf_lock import update_command

    loaded = load_stack_from_args(args)
    command = update_command(loaded.path, loaded.stack_name)  # messages suggest it with --stack/--config
    lock = read_lock(stack_lock_path(loaded), update_command=command)
    dkim_public = read_dkim_public_keys(args.outputs) if args.outputs else {}
    only = chosen_domains(loaded.settings, getattr(args, "domain", None) or [])
    if lock is not None:
        require_pinned(loaded.settings, only, lock, source=str(stack_lock_path(loaded)))
    return loaded, lock, run_sync(desired_domains(loaded.settings, lock=lock, resolver=None, dkim_public=dkim_public,
                                                  only=only, update_command=command,
                                                  lock_file=str(stack_lock_path(loaded))))
