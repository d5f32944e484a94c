"""YAML loading that remembers line numbers, so validation errors can point at a line."""
from __future__ import annotations

import difflib
import re
import string
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from shifu.content.errors import Problem, ShifuError, display_path

LineMap = dict[tuple[Any, ...], int]


def check_patterns(patterns: list[str]) -> list[str]:
    """A schema validator's body for regular expressions written in YAML: ValueError naming the bad one."""
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
    return patterns


def check_placeholders(text: str, allowed: set[str]) -> str:
    """A schema validator's body for wording with {placeholders} the program fills: ValueError naming an
    unknown placeholder or a stray brace (what str.format would raise in front of a trainee)."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise ValueError(f"cannot be read ({exc}); write a literal brace as {{{{ or }}}}") from None
    unknown = sorted(names - allowed)
    if unknown:
        known = ", ".join("{" + a + "}" for a in sorted(allowed)) or "none"
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; the program fills only: {known}")
    return text


class Strict(BaseModel):
    """Base of every schema for trainer-edited YAML: unknown fields are errors (a misspelt key is never
    silently ignored) and a loaded value cannot be changed by the code that reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


# libyaml's parser where PyYAML was built with it: the same documents, several times faster (every
# `shifu grade` loads all rubrics, scenarios and wording before it grades)
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(text: str, loader_class: Any) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


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
        try:
            node, data = _parse(text, _FAST_LOADER)
        except yaml.YAMLError:
            # libyaml words its errors differently: the pure-Python parser names the problem as before
            node, data = _parse(text, yaml.SafeLoader)
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


# ------------------------------------------------------------ validating a YAML file against a schema

_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove it or correct its spelling",
    "enum": "use one of the allowed values",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use lower-case letters, digits, '-' and '_' only",
    "string_too_short": "write some text here; it must not be empty",
    "int_type": "write a whole number without quotes",
    "int_parsing": "write a whole number without quotes",
    "int_from_float": "write a whole number without quotes",
    "float_type": "write a number without quotes",
    "float_parsing": "write a number without quotes",
    "string_type": "write text; put numbers, dates and yes/no in quotes, e.g. \"5985\"",
    "list_type": "write a list: [a, b] or one `- item` per line",
    "model_type": "write a mapping: one `key: value` per line, indented under this field",
    "dict_type": "write a mapping: one `key: value` per line, indented under this field",
}


def _inner_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in get_args(tp):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema model that holds the field at `loc` (list indexes and dict keys skipped), to suggest spellings."""
    model = root
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            if isinstance(part, int):
                continue
            return None
        inner = _inner_model(field.annotation)
        if inner is None:
            return None
        model = inner
    return model


def _fix_for(root: type[BaseModel], err: dict, guide: str) -> str:
    kind, loc, ctx = err["type"], tuple(err["loc"]), err.get("ctx") or {}
    see = f" (see {guide})" if guide else ""
    if kind == "extra_forbidden" and loc and isinstance(loc[-1], str):
        model = _model_at(root, loc[:-1])
        close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6) if model else []
        if close:
            return f"did you mean `{close[0]}`? rename it, or remove it{see}"
    if kind == "too_short":
        return f"add more entries: at least {ctx.get('min_length', 1)}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"raise the value to {'at least' if kind == 'greater_than_equal' else 'more than'} {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"lower the value to {'at most' if kind == 'less_than_equal' else 'less than'} {ctx.get('le', ctx.get('lt'))}"
    if "regular expression" in err["msg"]:
        return "fix the pattern (escape ( ) [ ] ? with a backslash when they are meant literally)"
    if kind in _FIXES:
        return _FIXES[kind] + (see if kind in ("missing", "extra_forbidden") else "")
    return f"correct the value{see}"


def validation_problems(shown: str, exc: ValidationError, lines: LineMap, root: type[BaseModel], guide: str = "") -> list[Problem]:
    """One Problem per pydantic error: file, line, dotted field, a plain message and a concrete fix."""
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        msg = {"extra_forbidden": "unknown field", "missing": "required field is missing"}.get(err["type"], err["msg"])
        out.append(Problem(shown, dotted(loc), msg, _fix_for(root, err, guide), line_for(lines, loc)))
    return out


M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, model: type[M], guide: str = "", first_key: str = "") -> M:
    """Read one YAML file into a schema; every problem becomes a ShifuError naming file, line, field and fix."""
    shown = display_path(path)
    if not path.exists():
        raise ShifuError([Problem(shown, "(file)", "is missing", f"restore {shown} from the repository")])
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        start = f"start the file with `{first_key}: ...`" if first_key else f"write one `key: value` per line{' (see ' + guide + ')' if guide else ''}"
        raise ShifuError([Problem(shown, "(top level)", "must be a mapping of fields", start, 1)])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ShifuError(validation_problems(shown, exc, lines, model, guide)) from None


# ------------------------------------------------------------ one cache for every file read from content

T = TypeVar("T")
_CACHE: OrderedDict[tuple[Hashable, ...], tuple[tuple[int, int], Any]] = OrderedDict()
_CACHE_SIZE = 256


def cached_by_file(path: Path, parse: Callable[[Path], T], *key: Hashable) -> T:
    """`parse(path)`, remembered until the file changes (resolved path, modification time and size).

    A trainer who edits a YAML file sees the edit in a running kernel or server without a restart; every
    content loader goes through here so none is cached by path alone. `parse` reports a missing file its own
    way (it is called, uncached, when the file cannot be stat'ed). `key` separates parses of the same file
    (e.g. different schemas). Errors are not cached: a fixed file is read again at once.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        return parse(p)
    stamp = (st.st_mtime_ns, st.st_size)
    k = (str(p), parse, *key)
    hit = _CACHE.get(k)
    if hit is not None and hit[0] == stamp:
        _CACHE.move_to_end(k)
        return hit[1]
    value = parse(p)
    _CACHE[k] = (stamp, value)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def require_shipped(path: Path) -> Path:
    """`path`, a file the repository ships (grader/engine.yaml …); ShifuError naming it and how to get it back
    when it is missing."""
    if not path.exists():
        raise ShifuError([Problem(display_path(path), "(file)", "is missing",
                                  f"restore {path.parent.name}/{path.name} from the repository")])
    return path


def load_model_cached(path: Path, model: type[M], guide: str = "", first_key: str = "") -> M:
    """`load_model`, remembered until the file changes (see cached_by_file)."""
    return cached_by_file(path, _model_parser(model, guide, first_key), model, guide, first_key)


_PARSERS: dict[tuple[type[BaseModel], str, str], Callable[[Path], Any]] = {}


def _model_parser(model: type[M], guide: str, first_key: str) -> Callable[[Path], M]:
    # one parser object per (schema, guide) so the cache key stays stable between calls
    k = (model, guide, first_key)
    if k not in _PARSERS:
        _PARSERS[k] = lambda p: load_model(p, model, guide, first_key)
    return _PARSERS[k]


def clear_cache() -> None:
    """Forget every cached file (tests that rewrite content within the same second and size)."""
    _CACHE.clear()
