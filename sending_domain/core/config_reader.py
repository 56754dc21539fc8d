"""Reading plain config data (mappings, lists, text, numbers) with key paths, collecting every problem.

A :class:`Reader` wraps one mapping at a key path (``domains[1].dkim``). Each read records a
:class:`~.errors.Problem` with a stable code when the value is missing, of the wrong type or fails its
check, and falls back to a well-typed default, so the caller goes on reading after the first mistake.
The codes here are the generic ones: ``type``, ``required``, ``unknown-key``, ``enum``, ``range``.

What the keys mean and which values are allowed is the caller's (:mod:`~.config` for a stack).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sending_domain.core.errors import Problem

Reason = tuple[str, str]  # (problem code, what to do)
_T = TypeVar("_T", str, int)
_D = TypeVar("_D")
Check = Callable[[_T], "Reason | None"]


class Problems(list[Problem]):
    """Every problem found so far, in the order found."""

    def add(self, path: str, code: str, message: str) -> None:
        self.append(Problem(path, code, message))


def open_mapping(
    raw: object, path: str, problems: Problems, allowed: Sequence[str], what: str | None = None
) -> Reader | None:
    """A reader over ``raw`` if it is a mapping; unknown keys become problems (with a did-you-mean).

    ``what`` says what the mapping should hold; by default, its allowed keys.
    """
    if not isinstance(raw, Mapping):
        what = what or "allowed keys: " + ", ".join(allowed)
        problems.add(path, "type", f"must be a mapping ({what}), not {_kind(raw)}")
        return None
    all_text = True
    for key in raw:
        if not isinstance(key, str):
            problems.add(_join(path, str(key)), "type", "keys must be text")
            all_text = False
        elif key not in allowed:
            problems.add(_join(path, key), "unknown-key", _unknown_key_message(key, allowed))
    return Reader(raw if all_text else {k: v for k, v in raw.items() if isinstance(k, str)}, path, problems)


@dataclass(slots=True)
class Reader:
    """One mapping of the raw data at a key path; problems go into the shared list.

    ``required`` names what a missing key should contain (``"a list of sending domains"``); a required
    key that is missing or null is a ``required`` problem saying so.
    """

    data: Mapping[str, object]
    path: str
    problems: Problems

    def at(self, key: str) -> str:
        return _join(self.path, key)

    def add(self, key: str, code: str, message: str) -> None:
        self.problems.add(self.at(key), code, message)

    def get(self, key: str) -> object:
        """The raw value, ``None`` when missing or null."""
        return self.data.get(key)

    def _present(self, key: str, required: str | None) -> object:
        value = self.data.get(key)
        return self._missing(key, required, None) if value is None else value

    def _missing(self, key: str, required: str | None, default: _D) -> _D:
        """``default`` for a missing or null key, with a ``required`` problem when it must be there."""
        if required:
            self.add(key, "required", f"missing: add {key} ({required})")
        return default

    def text(
        self, key: str, *, required: str | None = None, default: str | None = None, check: Check[str] | None = None
    ) -> str | None:
        """Stripped text; ``default`` when missing; ``None`` (and a problem) when invalid."""
        value = self.data.get(key)
        if value is None:
            return self._missing(key, required, default)
        if not isinstance(value, str):
            hint = f' (quote it: "{value}")' if isinstance(value, int | float) else ""
            self.add(key, "type", f"must be text, not {_kind(value)}{hint}")
            return None
        value = value.strip()
        reason = check(value) if check else None
        if reason:
            self.add(key, *reason)
            return None
        return value

    def choice(
        self, key: str, allowed: Sequence[str], *, required: str | None = None, default: str | None = None
    ) -> str | None:
        """One of ``allowed`` (matched ignoring case); ``None`` (and a problem) when invalid."""
        if self.data.get(key) is None:
            return self._missing(key, required, default)
        value = self.text(key)
        if value is None:
            return None
        if value in allowed:  # as written, the usual case
            return value
        canonical = {a.lower(): a for a in allowed}.get(value.lower())
        if canonical is None:
            self.add(key, *enum_reason(value, allowed))
        return canonical

    def integer(self, key: str, default: int, *, check: Check[int] | None = None) -> int:
        """A whole number; ``default`` when missing or invalid (with a problem when invalid)."""
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(key, "type", f"must be a whole number, not {_kind(value)}")
            return default
        reason = check(value) if check else None
        if reason:
            self.add(key, *reason)
            return default
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(key, "type", f"must be true or false, not {_kind(value)}")
            return default
        return value

    def items(self, key: str, *, required: str | None = None) -> list[tuple[str, object]]:
        """The list's items with their paths (``key[0]``...); empty when missing or not a list."""
        value = self._present(key, required)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.add(key, "type", f"must be a list, not {_kind(value)}")
            return []
        at = self.at(key)
        return [(f"{at}[{i}]", item) for i, item in enumerate(value)]

    def mapping(self, key: str, allowed: Sequence[str], *, required: str | None = None) -> Reader | None:
        value = self._present(key, required)
        if value is None:
            return None
        return open_mapping(value, self.at(key), self.problems, allowed)


# --- checks and reasons ----------------------------------------------------------------------------


def range_check(low: int, high: int, unit: str) -> Check[int]:
    """A check that ``low <= value <= high``: a ``range`` problem naming ``unit`` otherwise."""

    def reason(value: int) -> Reason | None:
        return None if low <= value <= high else ("range", f"must be {low}..{high} ({unit})")

    return reason


def enum_reason(value: str, allowed: Sequence[str]) -> Reason:
    """An ``enum`` problem listing ``allowed``, with a did-you-mean when one is close."""
    guess = _guess(value, allowed)
    hint = f"; did you mean '{guess}'?" if guess else ""
    return "enum", "must be one of " + ", ".join(allowed) + hint


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _unknown_key_message(key: str, allowed: Sequence[str]) -> str:
    guess = _guess(key, allowed)
    if guess:
        return f"unknown key '{key}'; did you mean '{guess}'?"
    return f"unknown key '{key}'; expected one of: {', '.join(allowed)}"


def _guess(word: str, allowed: Sequence[str]) -> str | None:
    """The allowed word ``word`` most likely meant: same letters ignoring case and ``_``/``-``, else difflib."""
    folded = {a.lower().replace("_", "").replace("-", ""): a for a in allowed}
    exact = folded.get(word.lower().replace("_", "").replace("-", ""))
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return exact or (close[0] if close else None)


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list | tuple) else "a mapping" if isinstance(value, Mapping) else "a value"
