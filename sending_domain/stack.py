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

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from sending_domain.collector import collector_paused
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
MAX_STACK_BYTES = 16 * 2**20  # 40,000 domains take about 7 MiB
MAX_DEPTH = 32  # a stack file nests about eight levels
MAX_NUMBER_CHARS = 20  # no setting is a number longer than this; Python refuses to read over 4,300 digits
_STR_TAG, _INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_NULL_TAG, _BOOL_TAG = "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"
_SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it


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
    with collector_paused():
        settings = _settings_in(path)
    return LoadedStack(settings, path, name)


def _settings_in(path: Path) -> StackSettings:
    """The settings of the stack file at ``path``, or one ConfigError with every problem at its line.

    Call it with the cycle collector paused: its nodes and data, millions of objects for a large stack, are freed
    when it returns, before the collector is back; kept alive then, the collector's first pass would walk them all
    (1.7 s of 40,000 domains).
    """
    node, document, duplicates = _parse_yaml(_read(path), path)
    raw = _settings_block(document, path)
    try:
        settings = parse_settings(raw, source=str(path))
    except ConfigError as e:
        raise ConfigError(duplicates + _with_lines(e.problems, node), source=str(path)) from None
    if duplicates:
        raise ConfigError(duplicates, source=str(path))
    return settings


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
        data = _read_at_most(path, MAX_STACK_BYTES + 1)
    except FileNotFoundError as e:
        message = f"no stack file at {path}; copy stacks/Pulumi.example.yaml to start one, or pass --config FILE"
        raise ConfigError(Problem("", "file-not-found", message), source=str(path)) from e
    except OSError as e:
        message = f"cannot read {path}: {e.strerror or e}"
        raise ConfigError(Problem("", "file-unreadable", message), source=str(path)) from e
    if len(data) > MAX_STACK_BYTES:
        message = f"the stack file is larger than {MAX_STACK_BYTES // 2**20} MiB; split the domains over several stacks"
        raise ConfigError(Problem("", "file-too-large", message), source=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        message = f"cannot read {path}: not UTF-8 text (line {line}, byte {e.start})"
        raise ConfigError(Problem("", "file-unreadable", message), source=str(path)) from None


def _read_at_most(path: Path, limit: int) -> bytes:
    """The file's first ``limit`` bytes, read in chunks: no buffer of ``limit`` bytes for a small file."""
    chunks: list[bytes] = []
    size = 0
    with path.open("rb") as f:
        while size < limit and (chunk := f.read(min(2**20, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)


def _parse_yaml(text: str, path: Path) -> tuple[yaml.Node | None, object, list[Problem]]:
    """The document's node tree (aliases refused, depth and numbers bounded), its data, and its duplicate keys.

    The nodes are kept: they give the lines of settings problems. The data is built directly from them when the
    document holds nothing unusual (:func:`_plain_data`); otherwise they are checked (:func:`_inspect`) and
    built by PyYAML's constructor, which reports what the direct build leaves to it.
    """
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, []
        if "*" not in text:  # without a '*' there is no alias
            try:
                return node, _plain_data(loader, node), []
            except _NotPlain:
                pass
        problems = _inspect(node)
        if any(p.code != "yaml-duplicate-key" for p in problems):
            raise ConfigError(problems, source=str(path))
        return node, loader.construct_document(node), problems
    except yaml.YAMLError as e:
        raise ConfigError(Problem("", "yaml-syntax", _yaml_message(e)), source=str(path)) from None
    except RecursionError:  # the pure-Python parser, without libyaml's own nesting limit
        mark = loader.get_mark() if hasattr(loader, "get_mark") else None
        where = f" (line {mark.line + 1})" if mark is not None else ""
        message = f"the YAML is nested deeper than {MAX_DEPTH} levels{where}; a stack file needs a handful"
        raise ConfigError(Problem("", "yaml-depth", message), source=str(path)) from None
    except (ValueError, OverflowError, TypeError) as e:  # a scalar YAML types but cannot build: 2026-02-30
        raise ConfigError(Problem("", "yaml-value", f"a value cannot be read: {e}"), source=str(path)) from None
    finally:
        loader.dispose()


class _NotPlain(Exception):
    """The document holds something :func:`_plain_data` leaves to the checked path."""


def _plain_data(loader: yaml.BaseLoader, root: yaml.Node) -> object:
    """The data of an alias-free document built straight from its nodes, as PyYAML's safe constructor builds it.

    The constructor spends most of the loading time on bookkeeping for aliases, merge keys and tags a stack file
    does not use (4.8 s of 40,000 domains). This build takes text, numbers, true/false, null, lists and
    mappings with the loader's own scalar constructors, so the data is the same; on anything else, and on what
    :func:`_inspect` would report (nesting deeper than MAX_DEPTH, a number longer than MAX_NUMBER_CHARS, two
    keys alike), it raises :class:`_NotPlain`. It needs a tree: the caller rules out aliases first.
    """
    scalars = {_NULL_TAG: loader.construct_yaml_null, _BOOL_TAG: loader.construct_yaml_bool,
               _INT_TAG: loader.construct_yaml_int, _FLOAT_TAG: loader.construct_yaml_float}
    scalar, sequence, mapping = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode

    def build(node: yaml.Node, depth: int) -> object:
        kind, tag = type(node), node.tag
        if kind is scalar:
            if tag == _STR_TAG:
                return node.value
            if tag not in scalars or (tag == _INT_TAG and len(node.value) > MAX_NUMBER_CHARS):
                raise _NotPlain
            return scalars[tag](node)
        if depth >= MAX_DEPTH:
            raise _NotPlain
        if kind is sequence and tag == _SEQ_TAG:
            return [build(item, depth + 1) for item in node.value]
        if kind is mapping and tag == _MAP_TAG:
            pairs = node.value
            if len({key.value for key, _ in pairs if type(key) is scalar}) != len(pairs):
                raise _NotPlain  # a key written twice, or a key that is not a scalar
            data = {build(key, depth + 1): build(value, depth + 1) for key, value in pairs}
            if len(data) != len(pairs):
                raise _NotPlain  # two keys that read alike: yes and true
            return data
        raise _NotPlain

    return build(root, 0)


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


Chain = tuple  # (parent chain, key node or list index); () is the root: the path text is built only when needed
Visit = tuple[Chain, yaml.Node, "yaml.Node | None", int]  # (path, value node, key node, depth)


def _path_text(chain: Chain) -> str:
    parts: list[str] = []
    while chain:
        chain, step = chain
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step.value}")
    text = "".join(reversed(parts))
    return text[1:] if text.startswith(".") else text


def _walk(root: yaml.Node | None) -> Iterator[Visit]:
    """Every (path, value node, key node, depth) below ``root`` in document order, each node once; a path reads
    ``.key`` and ``[i]`` (:func:`_path_text`). A node reached twice is an alias (``*name``): :class:`_AliasFound`."""
    if root is None:
        return
    seen = {id(root)}
    todo: list[Visit] = [((), root, None, 0)]
    mapping, sequence = yaml.MappingNode, yaml.SequenceNode
    while todo:
        chain, node, _, depth = todo.pop()
        kind = type(node)
        if kind is mapping or isinstance(node, mapping):
            children = [((chain, key), value, key, depth + 1) for key, value in node.value]
        elif kind is sequence or isinstance(node, sequence):
            children = [((chain, i), item, None, depth + 1) for i, item in enumerate(node.value)]
        else:
            continue
        for child in children:
            if id(child[1]) in seen:
                raise _AliasFound(_path_text(child[0]), (child[2] or node).start_mark.line + 1)
            seen.add(id(child[1]))
        yield from children
        todo.extend(reversed(children))


class _AliasFound(Exception):
    def __init__(self, path: str, line: int) -> None:
        super().__init__(path)
        self.path, self.line = path, line


def _inspect(root: yaml.Node) -> list[Problem]:
    """Refuse what would make the rest slow or fail: aliases, deep nesting, huge numbers; find duplicate keys.

    One walk over the composed nodes, each visited once, before anything is built from them: an alias
    ("billion laughs") would make every later walk expand it again, so it is refused at the first sight.
    """
    problems: list[Problem] = []
    try:
        scalar, mapping = yaml.ScalarNode, yaml.MappingNode
        for chain, node, _, depth in itertools.chain([((), root, None, 0)], _walk(root)):
            if type(node) is scalar:
                if node.tag == _INT_TAG and len(node.value) > MAX_NUMBER_CHARS:
                    message = f"a number of {len(node.value)} characters (line {node.start_mark.line + 1}); no setting needs more than {MAX_NUMBER_CHARS}"
                    problems.append(Problem(_relative(_path_text(chain)), "yaml-number", message))
            elif depth >= MAX_DEPTH:
                message = f"nested deeper than {MAX_DEPTH} levels (line {node.start_mark.line + 1}); a stack file needs a handful"
                return [Problem(_relative(_path_text(chain)), "yaml-depth", message)]
            elif type(node) is mapping and len(node.value) > 1 and len({k.value if type(k) is scalar else id(k) for k, _ in node.value}) < len(node.value):
                problems += _duplicates_in(chain, node)
    except _AliasFound as alias:
        message = (
            f"YAML aliases (*name) are not accepted in a stack file (line {alias.line}); write the value out "
            "where it is used"
        )
        return [Problem(_relative(alias.path), "yaml-alias", message)]
    return problems


def _relative(path: str) -> str:
    """A document path as parse_settings names it (relative to the settings block)."""
    if path == _SETTINGS_PATH:
        return ""
    return path[len(_SETTINGS_PATH) + 1 :] if path.startswith(_SETTINGS_PATH + ".") else path


def _duplicates_in(chain: Chain, node: yaml.MappingNode) -> Iterator[Problem]:
    """YAML keeps the last of two equal keys without a word; a stack file must not rely on that."""
    first: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        line = key.start_mark.line + 1
        if key.value in first:
            where = _relative(_path_text((chain, key)))
            message = f"key '{key.value}' appears twice (lines {first[key.value]} and {line}); keep one"
            yield Problem(where, "yaml-duplicate-key", message)
        else:
            first[key.value] = line


def _with_lines(problems: list[Problem], root: yaml.Node | None) -> list[Problem]:
    lines = {_relative(_path_text(chain)): (key or value).start_mark.line + 1 for chain, value, key, _ in _walk(root)}
    return [_at_line(problem, lines) for problem in problems]


def _at_line(problem: Problem, lines: dict[str, int]) -> Problem:
    path = problem.path
    while path and path not in lines:
        path = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", path) if re.search(r"[.\[]", path) else ""
    if path not in lines:
        return problem
    return Problem(problem.path, problem.code, f"{problem.message} (line {lines[path]})")
