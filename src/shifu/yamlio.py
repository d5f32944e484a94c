"""YAML loading that remembers line numbers, so validation errors can point at a line."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import Problem, ShifuError, display_path

LineMap = dict[tuple[Any, ...], int]


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: LineMap) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines)


def _duplicate_keys(node: yaml.Node, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.value in seen:
                out.append((path + (key_node.value,), key_node.start_mark.line + 1))
            seen.add(key_node.value)
            _duplicate_keys(value_node, path + (key_node.value,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _duplicate_keys(item, path + (i,), out)


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Parse one YAML file; raise ShifuError naming the file and line on syntax errors or repeated keys."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ShifuError([Problem(shown, "(file)", f"cannot read: {exc.strerror}", "check the path and permissions")])
    except UnicodeDecodeError:
        raise ShifuError([Problem(shown, "(file)", "is not UTF-8 text", "save the file as UTF-8")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = str(getattr(exc, "problem", None) or str(exc).splitlines()[0])
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark is not None and cmark.line + 1 != line:
            reason += f" ({context} that starts on line {cmark.line + 1})"
        fix = "indent with spaces, not tabs" if "\\t" in reason else "fix the indentation, quotes or colons on that line"
        raise ShifuError([Problem(shown, "(YAML syntax)", reason, fix, line)])
    lines: LineMap = {}
    if node is not None:
        _walk(node, (), lines)
        dups: list[tuple[tuple[Any, ...], int]] = []
        _duplicate_keys(node, (), dups)
        if dups:
            raise ShifuError([
                Problem(shown, dotted(p), "key appears twice in the same mapping", "keep one of them", line)
                for p, line in dups
            ])
    return data, lines


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def line_for(lines: LineMap, path: tuple[Any, ...]) -> int | None:
    """The line of the deepest known prefix of `path`."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None
