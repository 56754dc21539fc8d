"""Pulumi's test helpers look up the current event loop; earlier tests may have closed theirs (asyncio.run).

A refused deployment leaves Pulumi futures whose exceptions nobody retrieves; when the garbage collector frees
them, asyncio logs the exception with its traceback, and Python 3.11 formats tracebacks with ``ast.parse``. If
that collection happens in the middle of another ``ast.parse`` (pytest rewriting a module it imports later), the
two parses share CPython 3.11's AST recursion counter and the outer one fails with "SystemError: AST constructor
recursion depth mismatch". So each test's garbage is collected at its teardown, where nothing else is parsing.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def event_loop_for_pulumi() -> Iterator[None]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()
    gc.collect()
