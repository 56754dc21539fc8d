"""What a stack wants published: settings → flattened SPF (from the vendor lock, or live DNS) → records.

The edge between the pure renderer and the world: it reads the lock file and, when a domain's SPF tree
is not pinned, resolves it live. A DNS failure raises and nothing is rendered, so no sink ever sees a
set that silently lost a sender.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import replace
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.evidence_file import EVIDENCE_FILE, Document, empty_document, parse_evidence
from sending_domain.core.evidence_file import MAX_BYTES as MAX_EVIDENCE_BYTES
from sending_domain.core.render import DesiredDomain, flatten_options, our_zones, render_domain, spf_root_text
from sending_domain.core.settings import DomainSettings, StackSettings
from sending_domain.core.spf.flatten import Flattened, flatten_snapshot
from sending_domain.core.spf.lock import UPDATE_COMMAND, SpfLock, lock_terms
from sending_domain.core.spf.terms import parse_record
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.dns.spf_fetch import flatten_live

LOCK_FILE = "spf.lock.json"
T = TypeVar("T")


def lock_path(stack_dir: Path) -> Path:
    """The vendor lock lives next to the stack files."""
    return stack_dir / LOCK_FILE


def evidence_path(stack_dir: Path) -> Path:
    """The reviewed DMARC evidence file lives next to the stack files too."""
    return stack_dir / EVIDENCE_FILE


def read_evidence(path: Path) -> Document:
    """The evidence file at ``path`` (an empty document when there is none), size-capped and checked."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_EVIDENCE_BYTES + 1)
    except FileNotFoundError:
        return empty_document()
    except OSError as e:
        raise ConfigError(Problem("", "evidence-unreadable", f"cannot read the evidence file: {e.strerror or e}"), source=str(path)) from None
    if len(data) > MAX_EVIDENCE_BYTES:
        message = f"the evidence file is over {MAX_EVIDENCE_BYTES // 2**20} MiB; an evidence file is a few KB per domain"
        raise ConfigError(Problem("", "evidence-size", message), source=str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        message = f"the evidence file is not UTF-8 text (byte {e.start}); write it again with `sending-domain dmarc status --write`"
        raise ConfigError(Problem("", "evidence-unreadable", message), source=str(path)) from None
    return parse_evidence(text, source=str(path))


def read_lock(path: Path, *, update_command: str = UPDATE_COMMAND) -> SpfLock | None:
    """The lock at ``path``, or None when there is none; every value is checked (ConfigError naming the entry).

    ``update_command`` is the command messages suggest (with the stack's --stack or --config).
    """
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        message = f"the SPF lock file is not UTF-8 text (byte {e.start}); regenerate it with `{update_command}`"
        raise ConfigError(Problem("", "lock-unreadable", message), source=str(path)) from None
    except OSError as e:
        raise ConfigError(Problem("", "lock-unreadable", f"cannot read the SPF lock file: {e.strerror or e}"), source=str(path)) from None
    return SpfLock.from_json(text, source=str(path), update_command=update_command)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also from code that already runs inside an event loop (the Pulumi program)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def flatten_domain(settings: DomainSettings, *, lock: SpfLock | None, resolver: AsyncResolver | None,
                         key: str = "", update_command: str = UPDATE_COMMAND, lock_file: str = "") -> Flattened:
    """``settings``' SPF flattened from the lock (offline) or live DNS; ``key`` is the domain's place in the
    stack (``domains[0]``), so warnings name the sender they are about."""
    text = spf_root_text(settings)
    terms = lock_terms(settings.domain, parse_record(text, settings.domain))
    options = replace(
        flatten_options(settings),
        allow_wide=settings.spf.allow_wide,
        sender_keys=tuple(f"{key or settings.domain}.senders[{j}]" for j in range(len(settings.senders))),
    )
    if lock is not None and (resolver is None or all(t in lock.entries for t in terms)):
        # offline: a term missing from the lock is a ConfigError that names it
        return flatten_snapshot(settings.domain, lock.snapshot(terms), text, options)
    if resolver is None:
        raise ConfigError(
            f"{settings.domain}: there is no SPF lock{f' at {lock_file}' if lock_file else ''} to plan from offline; "
            f"create it with `{update_command}` and commit it"
        )
    return await flatten_live(settings.domain, resolver, text, options)


async def desired_domains(
    stack: StackSettings,
    *,
    lock: SpfLock | None = None,
    resolver: AsyncResolver | None = None,
    dkim_public: Mapping[tuple[str, str], str] | None = None,
    only: Sequence[str] = (),
    update_command: str = UPDATE_COMMAND,
    lock_file: str = "",
) -> list[DesiredDomain]:
    """Render every domain of ``stack`` (or those in ``only``), flattening their SPF concurrently."""
    chosen = [d for d in stack.domains if not only or d.domain in only]
    command = lock.update_command if lock is not None else update_command
    spf = await asyncio.gather(*(
        flatten_domain(d, lock=lock, resolver=resolver, key=f"domains[{stack.domains.index(d)}]", update_command=command,
                       lock_file=lock_file)
        for d in chosen
    ))
    zones = our_zones(stack)
    return [render_domain(d, s, dkim_public=dkim_public, zones=zones) for d, s in zip(chosen, spf)]
