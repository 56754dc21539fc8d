"""Pin and check the vendor SPF trees a stack includes (the lock file next to the stack files).

The lock is shared by the stacks of a folder, so it is written as a database would be: the trees are
resolved first (no lock held while DNS answers), then an exclusive file lock is taken, the lock file read
afresh, this stack's entries merged in and the result written to a temporary file in the same folder,
fsync'd and moved over the old one (``os.replace``). A second ``--update`` waits for the first and then
merges into what the first wrote, so neither stack loses its entries, and a crash mid-write leaves the
old file whole. A lock that cannot be read is rebuilt by ``--update`` (keeping the entries that are still
valid), which says so.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from sending_domain.core.errors import ConfigError, Problem, SpfError
from sending_domain.core.render import spf_root_text
from sending_domain.core.settings import StackSettings
from sending_domain.core.spf.lock import (
    EVAL_DOMAIN,
    UPDATE_COMMAND,
    LockEntry,
    SpfLock,
    VendorChange,
    broken_entry,
    compare_entry,
    lock_terms,
    merge_lock,
    term_record,
)
from sending_domain.core.spf.terms import parse_record
from sending_domain.dns.resolver import AsyncResolver
from sending_domain.dns.spf_fetch import fetch_and_evaluate

LOCK_WAIT = 120.0  # seconds to wait for another update of the same lock file


def update_command(stack_file: Path, stack_name: str, *, cwd: Path | None = None) -> str:
    """The ``spf lock --update`` command for this stack, as a user can paste it: ``--stack NAME`` when the
    file is where ``--stack`` looks (``stacks/Pulumi.NAME.yaml`` here), else ``--config FILE``."""
    here = cwd if cwd is not None else Path.cwd()
    with suppress(OSError):
        if stack_name and (here / "stacks" / f"Pulumi.{stack_name}.yaml").resolve() == stack_file.resolve():
            return f"{UPDATE_COMMAND} --stack {shlex.quote(stack_name)}"
    return f"{UPDATE_COMMAND} --config {shlex.quote(str(stack_file))}"


def stack_terms(stack: StackSettings) -> list[str]:
    """Every pinnable root term of every domain of ``stack``, sorted."""
    terms: set[str] = set()
    for domain in stack.domains:
        terms.update(lock_terms(domain.domain, parse_record(spf_root_text(domain), domain.domain)))
    return sorted(terms)


async def resolve_entry(term: str, resolver: AsyncResolver, now: str) -> LockEntry:
    """The answers ``term``'s tree needs, resolved now; SpfError names the term, never a placeholder domain."""
    try:
        _, answers = await fetch_and_evaluate(EVAL_DOMAIN, resolver, term_record(term), anonymous=True)
    except SpfError as e:
        message = str(e)
        raise SpfError(message if message.startswith(term) else f"{term}: {message}") from None
    return LockEntry(term, now, answers)


async def refresh_lock(stack: StackSettings, resolver: AsyncResolver, now: str, previous: SpfLock | None = None) -> SpfLock:
    """Resolve every term of ``stack`` afresh. An unchanged entry keeps its old time, so the file only changes with DNS.

    The lock is shared by the stacks next to it: entries of terms this stack does not use are kept as they were.
    """
    terms = stack_terms(stack)
    fresh = await asyncio.gather(*(resolve_entry(t, resolver, now) for t in terms))
    return merge_lock(previous, fresh, terms)


@dataclass(frozen=True)
class LockUpdate:
    """What ``--update`` did: the lock written, the terms whose entries changed, and (when the old file could
    not be read) the problems that made it rebuild the lock."""

    lock: SpfLock
    changed: tuple[str, ...]
    rebuilt: tuple[Problem, ...] = ()


async def update_lock_file(path: Path, stack: StackSettings, resolver: AsyncResolver, now: str, *,
                           update_command: str = UPDATE_COMMAND, wait: float = LOCK_WAIT,
                           on_progress: Callable[[int, int], None] | None = None) -> LockUpdate:
    """Resolve ``stack``'s trees, then merge them into the lock at ``path`` under an exclusive file lock.

    ``on_progress(done, total)`` is called as each tree is resolved (a progress line on a terminal).
    """
    terms = stack_terms(stack)
    resolved = 0

    async def resolve(term: str) -> LockEntry:
        nonlocal resolved
        entry = await resolve_entry(term, resolver, now)
        resolved += 1
        if on_progress is not None:
            on_progress(resolved, len(terms))
        return entry

    fresh = await asyncio.gather(*(resolve(t) for t in terms))
    with exclusive(path, wait=wait):
        previous, problems = _read_for_update(path, update_command)
        lock = merge_lock(previous, fresh, terms)
        text = lock.to_json()
        if problems or previous is None or text != previous.to_json():
            write_atomically(path, text)
    before = previous.entries if previous else {}
    changed = tuple(sorted(t for t, e in lock.entries.items() if before.get(t) != e))
    return LockUpdate(SpfLock(lock.entries, str(path), update_command), changed, tuple(problems))


def _read_for_update(path: Path, update_command: str) -> tuple[SpfLock | None, list[Problem]]:
    """The lock as it is now; a damaged one gives its valid entries and the problems of the rest."""
    if not path.exists():
        return None, []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem("", "lock-unreadable", f"not UTF-8 text (byte {e.start})")]
    except OSError as e:
        raise ConfigError(Problem("", "lock-unreadable", f"cannot read the SPF lock file: {e.strerror or e}"), source=str(path)) from None
    lock, problems = SpfLock.salvage(text, source=str(path), update_command=update_command)
    return lock, problems


async def check_lock(stack: StackSettings, lock: SpfLock, resolver: AsyncResolver) -> list[VendorChange]:
    """Pinned trees whose live answers differ or no longer evaluate, and stack terms the lock does not pin.

    A vendor whose include vanished (NXDOMAIN, no SPF record any more) is a change like any other, so the
    report names it; DNS failures still abort.
    """
    terms = stack_terms(stack)
    pinned = [t for t in terms if t in lock.entries]
    fresh = await asyncio.gather(*(_live_change(lock.entries[t], resolver) for t in pinned))
    changes = [c for c in fresh if c is not None]
    changes += [VendorChange(t, (), (), "is in the stack but not pinned in the lock") for t in terms if t not in lock.entries]
    return sorted((_with_fix(c, lock.update_command) for c in changes), key=lambda c: c.term)


async def _live_change(old: LockEntry, resolver: AsyncResolver) -> VendorChange | None:
    try:
        new = await resolve_entry(old.term, resolver, "")
    except SpfError as e:
        return broken_entry(old, e)
    return compare_entry(old, new)


def _with_fix(change: VendorChange, command: str) -> VendorChange:
    return VendorChange(change.term, change.added, change.removed, change.detail, change.error, command)


# --- the file ---------------------------------------------------------------------------------------


@contextmanager
def exclusive(path: Path, *, wait: float = LOCK_WAIT, holder: str = "spf lock --update") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through ``.<name>.lock`` beside it) for a read-modify-write."""
    guard = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(guard, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(Problem("", "lock-unwritable", f"cannot create {guard}: {e.strerror or e}"), source=str(path)) from None
    try:
        _acquire(fd, guard, wait, holder)
        try:
            yield
        finally:
            _release(fd)
    finally:
        os.close(fd)


def _acquire(fd: int, guard: Path, wait: float, holder: str) -> None:
    deadline = time.monotonic() + wait
    while not _try_lock(fd):
        if time.monotonic() > deadline:
            raise ConfigError(f"another `{holder}` has held {guard} for {wait:.0f} s; try again when it is done")
        time.sleep(0.05)


try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file in ``path``'s folder, fsync it, and move it over ``path``."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    with suppress(OSError, AttributeError):  # the rename itself reaches the disk with the folder (POSIX)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
