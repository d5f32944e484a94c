"""Values travelling between a trainee's kernel and the grader's test judge (shifu.grading.judge), as data.

The judge evaluates a notebook's test cells in the grader; only the parts of a test that name the
trainee's objects run in the kernel: `answer(expr)` evaluates one such expression (source text
from the SOURCE notebook's test) in the kernel's namespace, or calls the callable it names with
arguments the grader sent (`answer(expr, call)`), and displays the outcome as one output of MIME
type `MIME`:

    {"ok": <encoded value>}    or    {"raised": "KeyError", "message": "..."}

An encoded value is {"t": "none" | "bool" | "int" | "float" | "str" | "list" | "tuple" | "set" |
"dict" | "pandas" | "callable" | "unsupported", "v": ...}; pandas objects use
shifu.grading.labscore's table encoding (imported only when a pandas object is met). Nothing is
ever pickled: the grader decodes plain JSON, whatever the kernel sends.

This module runs inside the trainee's kernel and is imported there only when a test needs it, so
it imports nothing heavy.
"""
from __future__ import annotations

import json
import math
from typing import Any

MIME = "application/vnd.shifu.probe+json"
MAX_ITEMS = 100_000
MAX_DEPTH = 20


def encode(obj: Any, depth: int = 0) -> dict[str, Any]:
    """A JSON-safe description of OBJ ({"t": "unsupported"} for what cannot travel as data)."""
    if depth > MAX_DEPTH:
        return {"t": "unsupported", "v": "too deep"}
    if obj is None:
        return {"t": "none"}
    module = type(obj).__module__.split(".")[0]
    if module == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()          # numpy scalar → the Python number
    elif module == "numpy" and hasattr(obj, "tolist"):
        obj = obj.tolist()
    if isinstance(obj, bool):
        return {"t": "bool", "v": obj}
    if isinstance(obj, int):
        return {"t": "int", "v": str(obj)} if abs(obj) > 2 ** 53 else {"t": "int", "v": obj}
    if isinstance(obj, float):
        return {"t": "float", "v": obj if math.isfinite(obj) else repr(obj)}
    if isinstance(obj, str):
        return {"t": "str", "v": obj}
    if isinstance(obj, (list, tuple, set, frozenset)):
        if len(obj) > MAX_ITEMS:
            return {"t": "unsupported", "v": "too large"}
        kind = "list" if isinstance(obj, list) else "tuple" if isinstance(obj, tuple) else "set"
        return {"t": kind, "v": [encode(x, depth + 1) for x in obj]}
    if isinstance(obj, dict):
        if len(obj) > MAX_ITEMS:
            return {"t": "unsupported", "v": "too large"}
        return {"t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in obj.items()]}
    if module == "pandas":
        import warnings

        from shifu.grading.labscore import encode as table

        with warnings.catch_warnings():   # pandas warns while writing some tables: on stderr it would zero the cell
            warnings.simplefilter("ignore")
            return {"t": "pandas", "v": table(obj)}
    if callable(obj):
        return {"t": "callable", "v": type(obj).__name__}
    return {"t": "unsupported", "v": type(obj).__name__}


class Opaque:
    """A value that could not travel as data: equal to nothing, so a test comparing it fails."""

    def __init__(self, what: str):
        self.what = what

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.what}: not comparable outside the notebook>"


def decode(data: Any, callable_for: Any = None) -> Any:
    """The value `encode` described. callable_for(path) makes a stand-in for a callable (the grader's
    remote call); without it a callable decodes as Opaque. Malformed data raises ValueError."""
    if not isinstance(data, dict):
        raise ValueError("not an encoded value")
    kind, value = data.get("t"), data.get("v")
    if kind == "none":
        return None
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError("str")
        return value
    if kind in ("list", "tuple", "set"):
        items = [decode(x) for x in value]
        return items if kind == "list" else tuple(items) if kind == "tuple" else set(items)
    if kind == "dict":
        return {decode(k): decode(v) for k, v in value}
    if kind == "pandas":
        from shifu.grading.labscore import decode as table

        return table(value)
    if kind == "callable" and callable_for is not None:
        return callable_for()
    if kind in ("callable", "unsupported"):
        return Opaque(str(value))
    raise ValueError(f"type {kind!r}")


def answer(expr: str, call: str | None = None) -> None:
    """Kernel side: evaluate EXPR in the notebook's namespace (then call it with the JSON-encoded
    [args, kwargs] CALL, if given) and display the outcome for the grader (module docstring)."""
    from IPython import get_ipython
    from IPython.display import display

    try:
        value = eval(expr, get_ipython().user_ns)  # noqa: S307 — the text is the course's own test
        if call is not None:
            args, kwargs = json.loads(call)
            value = value(*decode(args), **decode(kwargs))
        payload: dict[str, Any] = {"ok": encode(value)}
    except Exception as exc:  # the trainee's code raised: the test sees the same exception type
        payload = {"raised": type(exc).__name__, "message": str(exc)[:500]}
    try:
        text = json.dumps(payload)
    except (TypeError, ValueError):
        text = json.dumps({"ok": {"t": "unsupported", "v": "not encodable"}})
    display({MIME: text}, raw=True)


__all__ = ["MIME", "encode", "decode", "answer", "Opaque"]
