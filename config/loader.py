"""YAML district file -> validated :class:`~config.district.District`, failing fast and precisely.

An error names the file, the line, the key path (``restaurants[12].licence_no``) and the problem, so a
typo is found at start-up rather than at 3 a.m. ``${VAR}`` in a string is replaced by that environment
variable (for camera passwords kept out of the file); an unset variable is an error too.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from config.district import District, DistrictReferenceError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Loc = tuple[str | int, ...]
Problem = tuple[str, int | None, str]


class ConfigError(Exception):
    """The district file is unusable. ``problems`` lists (key path, line or None, message)."""

    def __init__(self, file: Path, problems: list[tuple[str, int | None, str]]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        """One line per problem: ``file:line: key.path: message``."""
        lines = []
        for path, line, message in self.problems:
            where = f"{self.file}:{line}" if line else str(self.file)
            lines.append(f"{where}: {path}: {message}" if path else f"{where}: {message}")
        return "\n".join(lines)


def sample_district_path() -> Path:
    """The committed sample district (Yantian-like) used by ``mscc demo``."""
    return Path(str(resources.files("config") / "samples" / "district.yaml"))


def load_district(path: Path | str, *, environ: Mapping[str, str] | None = None) -> District:
    """Read and validate a district file. Raises :class:`ConfigError` naming file, line and key path."""
    file = Path(path)
    env = os.environ if environ is None else environ
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, [("", None, f"cannot read file: {exc.strerror or exc}")]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(file, [("", line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    if not isinstance(data, dict):
        raise ConfigError(file, [("", 1, "the file must be a mapping with keys name, streets, ...")])
    # PyYAML keeps the last of two equal keys, so a second `restaurants:` section would silently drop
    # the first; a fail-fast loader must refuse that. A self-containing alias would hang what follows.
    duplicates = _duplicate_keys(node, (), set())
    if duplicates:
        raise ConfigError(file, duplicates)

    missing: list[tuple[Loc, str]] = []
    data = _substitute_env(data, env, (), missing)
    if missing:
        raise ConfigError(
            file,
            [
                (_dotted(loc), _line_of(node, loc), f"environment variable {var} is not set")
                for loc, var in missing
            ],
        )
    try:
        return District.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(file, _problems(exc, node)) from exc


def _problems(exc: ValidationError, node: yaml.Node | None) -> list[Problem]:
    problems: list[Problem] = []
    suggested: set[Loc] = set()  # required keys that an unknown key is probably a typo of
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, DistrictReferenceError):
            loc = _parse_path(cause.path)
            problems.append((cause.path, _line_of(node, loc), cause.problem))
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            close = _closest_field(loc)
            message = f"unknown key {loc[-1]!r}" + (f" (did you mean {close!r}?)" if close else "")
            if close:
                suggested.add((*loc[:-1], close))
        elif err["type"] == "missing":
            message = f"required key {loc[-1]!r} is missing"
            problems.append((_dotted(loc), _line_of(node, loc[:-1]), message))
            continue
        problems.append((_dotted(loc), _line_of(node, loc), message))
    # "unknown key 'licence_number' (did you mean 'licence_no'?)" already says it all; the matching
    # "required key 'licence_no' is missing" would only repeat it.
    return [p for p in problems if not (p[2].startswith("required key") and _parse_path(p[0]) in suggested)]


def _duplicate_keys(node: yaml.Node | None, loc: Loc, ancestors: set[int]) -> list[Problem]:
    """Keys given twice in one mapping, and aliases that contain themselves (which would recurse forever)."""
    if node is None:
        return []
    if id(node) in ancestors:
        return [(_dotted(loc), node.start_mark.line + 1, "an alias refers to a node that contains it")]
    inner = ancestors | {id(node)}
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if isinstance(key, str):
                line = key_node.start_mark.line + 1
                if key in first_line:
                    message = f"duplicate key {key!r} (first on line {first_line[key]})"
                    problems.append((_dotted((*loc, key)), line, message))
                else:
                    first_line[key] = line
                problems += _duplicate_keys(value_node, (*loc, key), inner)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*loc, i), inner)
    return problems


def _substitute_env(value: Any, env: Mapping[str, str], loc: Loc, missing: list[tuple[Loc, str]]) -> Any:
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                missing.append((loc, name))
                return ""
            return env[name]

        return _ENV_REF.sub(repl, value)
    if isinstance(value, dict):
        return {k: _substitute_env(v, env, (*loc, k), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_env(v, env, (*loc, i), missing) for i, v in enumerate(value)]
    return value


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse_path(path: str) -> Loc:
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return tuple(parts)


def _line_of(node: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest node on ``loc`` that exists in the file (the key itself for a
    mapping entry, so an unknown key points at its own line)."""
    best = node
    current = node
    for key in loc:
        if isinstance(current, yaml.MappingNode) and isinstance(key, str):
            entry = next(((k, v) for k, v in current.value if getattr(k, "value", None) == key), None)
            if entry is None:
                break
            best, current = entry
        elif isinstance(current, yaml.SequenceNode) and isinstance(key, int) and key < len(current.value):
            current = current.value[key]
            best = current
        else:
            break
    return best.start_mark.line + 1 if best is not None else None


def _closest_field(loc: Loc) -> str | None:
    """The field a misspelt key most likely meant, from the model at that place in the tree."""
    parent: type[Any] = District
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        field = parent.model_fields.get(key)
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return None
        parent = candidates[0]
    close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1)
    return close[0] if close else None
