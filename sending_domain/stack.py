"""The loader at the edge: read a Pulumi stack file and turn ``sending-domain:settings`` into typed settings.

``load_stack(stack="dev")`` reads ``<project>/stacks/Pulumi.dev.yaml``; ``load_stack(config_file=...)``
reads any stack file. Both hand the settings to the pure :func:`~.core.config.parse_settings`, so the
CLI and the Pulumi program (which calls ``parse_settings`` on
``Config("sending-domain").require_object("settings")``) accept exactly the same settings.

Every failure is a :class:`~.core.errors.ConfigError`, never a traceback: a missing file, YAML syntax
(with line and column), duplicate YAML keys (YAML would silently keep the last), a missing settings
key, and every settings problem, each pointed at its line in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from sending_domain.core.config import parse_settings
from sending_domain.core.errors import ConfigError, Problem
from sending_domain.core.settings import StackSettings

PROJECT = "sending-domain"
SETTINGS_KEY = f"{PROJECT}:settings"
STACK_CONFIG_DIR = "stacks"  # Pulumi.yaml: stackConfigDir
_SETTINGS_PATH = f"config.{SETTINGS_KEY}"
# Pulumi stack names: "stack", "org/stack" or "org/project/stack"; the file is named after the last part.
_STACK_NAME = re.compile(r"^(?:[A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+$")
_STACK_FILE = re.compile(r"^Pulumi\.(?P<name>.+)\.ya?ml$")


@dataclass(frozen=True)
class LoadedStack:
    """Settings read from one stack file, with where they came from."""

    settings: StackSettings
    path: Path
    stack_name: str


def load_stack(
    *, stack: str | None = None, config_file: str | Path | None = None, project_dir: Path | None = None
) -> LoadedStack:
    """Read ``--stack NAME`` (``<project_dir>/stacks/Pulumi.NAME.yaml``) or ``--config FILE``; check everything."""
    path, name = _resolve(stack, config_file, project_dir if project_dir is not None else Path.cwd())
    node, document = _parse_yaml(_read(path), path)
    duplicates = list(_duplicate_keys(node))
    raw = _settings_block(document, path)
    try:
        settings = parse_settings(raw, source=str(path))
    except ConfigError as e:
        raise ConfigError(duplicates + _with_lines(e.problems, node), source=str(path)) from None
    if duplicates:
        raise ConfigError(duplicates, source=str(path))
    return LoadedStack(settings, path, name)


def settings_from_pulumi_config(obj: object) -> StackSettings:
    """What the Pulumi program does with ``Config("sending-domain").require_object("settings")``."""
    return parse_settings(obj, source=f"Pulumi config {SETTINGS_KEY}")


# --- finding and reading the file --------------------------------------------------------------


def _resolve(stack: str | None, config_file: str | Path | None, project_dir: Path) -> tuple[Path, str]:
    if (stack is None) == (config_file is None):
        raise ConfigError(Problem("", "usage", "give either --stack NAME or --config FILE (exactly one)"))
    if config_file is not None:
        path = Path(config_file)
        match = _STACK_FILE.match(path.name)
        return path, match["name"] if match else path.stem
    name = _stack_name(stack or "")
    return project_dir / STACK_CONFIG_DIR / f"Pulumi.{name}.yaml", name


def _stack_name(stack: str) -> str:
    """The file part of ``stack``, ``org/project/dev`` → ``dev``; never a path that leaves ``stacks/``."""
    text = stack.strip()
    if not _STACK_NAME.match(text) or {".", ".."} & set(text.split("/")):
        message = f"'{stack}' is not a stack name ([org/[project/]]name; letters, digits, '-', '_', '.')"
        raise ConfigError(Problem("", "stack-name", message))
    return text.rsplit("/", 1)[-1]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        message = f"no stack file at {path}; copy stacks/Pulumi.example.yaml to start one, or pass --config FILE"
        raise ConfigError(Problem("", "file-not-found", message), source=str(path)) from e
    except (OSError, UnicodeDecodeError) as e:
        message = f"cannot read {path}: {e}"
        raise ConfigError(Problem("", "file-unreadable", message), source=str(path)) from e


def _parse_yaml(text: str, path: Path) -> tuple[yaml.Node | None, object]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as e:
        raise ConfigError(Problem("", "yaml-syntax", _yaml_message(e)), source=str(path)) from e
    finally:
        loader.dispose()


def _yaml_message(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    start = getattr(error, "context_mark", None)
    what = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    text = f"{context}, {what}" if context else what
    if mark is None:
        return f"invalid YAML: {text}"
    began = f" (it began at line {start.line + 1})" if start is not None and start.line != mark.line else ""
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {text}{began}"


def _settings_block(document: object, path: Path) -> object:
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        message = "a stack file needs a top-level config: mapping (see stacks/Pulumi.example.yaml)"
        raise ConfigError(Problem("", "missing-settings", message), source=str(path))
    if SETTINGS_KEY not in config:
        raise ConfigError(Problem("config", "missing-settings", _missing_message(config)), source=str(path))
    return config[SETTINGS_KEY]


def _missing_message(config: dict) -> str:
    near = [key for key in config if isinstance(key, str) and key.rsplit(":", 1)[-1] == "settings"]
    hint = f" (found {near[0]!r}; the project is named {PROJECT})" if near else ""
    return f"no {SETTINGS_KEY} under config:{hint}; add it as in stacks/Pulumi.example.yaml"


# --- pointing problems at lines ----------------------------------------------------------------


def _walk(node: yaml.Node | None, path: str = "") -> Iterator[tuple[str, yaml.Node, yaml.Node | None]]:
    """Every (path, value node, key node) of the document; a key path uses ``.key`` and ``[i]``."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else f"{key.value}"
            yield child, value, key
            yield from _walk(value, child)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield f"{path}[{i}]", item, None
            yield from _walk(item, f"{path}[{i}]")


def _relative(path: str) -> str:
    """A document path as parse_settings names it (relative to the settings block)."""
    if path == _SETTINGS_PATH:
        return ""
    return path[len(_SETTINGS_PATH) + 1 :] if path.startswith(_SETTINGS_PATH + ".") else path


def _duplicate_keys(root: yaml.Node | None) -> Iterator[Problem]:
    """YAML keeps the last of two equal keys without a word; a stack file must not rely on that."""
    for path, node, _ in [("", root, None), *_walk(root)]:
        if not isinstance(node, yaml.MappingNode):
            continue
        first: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if key.value in first:
                where = _relative(f"{path}.{key.value}" if path else str(key.value))
                message = f"key '{key.value}' appears twice (lines {first[key.value]} and {line}); keep one"
                yield Problem(where, "yaml-duplicate-key", message)
            else:
                first[key.value] = line


def _with_lines(problems: list[Problem], root: yaml.Node | None) -> list[Problem]:
    lines = {_relative(path): (key or value).start_mark.line + 1 for path, value, key in _walk(root)}
    return [_at_line(problem, lines) for problem in problems]


def _at_line(problem: Problem, lines: dict[str, int]) -> Problem:
    path = problem.path
    while path and path not in lines:
        path = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", path) if re.search(r"[.\[]", path) else ""
    if path not in lines:
        return problem
    return Problem(problem.path, problem.code, f"{problem.message} (line {lines[path]})")
