"""A notebook's own test cells (hand-written asserts, partial credit), evaluated by the grader.

nbgrader restores each test cell and runs it in the trainee's kernel, so the verdict (an error or
not, the cell's last value) comes from a process the trainee's code controls: an IPython input
transformer, a patched `run_cell`, a replaced `AssertionError` or a forged reply message can turn any
failing test into a pass. Resetting hooks before each test cannot close that (there is always one
more hook), and checking what ran cannot either (the kernel reports what ran). So the verdict is
taken out of the kernel:

- the test cell's code (from the SOURCE notebook: the trainee never sees its hidden part, let alone
  edits it) runs here, in the grader, in a thread of its own with an empty namespace, the source
  notebook's imports, and a `print` of its own;
- every part of the test that names the trainee's objects — `average_wait([2, 4])`,
  `reply_stats(orders)`, `frt_stats` — is cut out of the code (`_Remote`) and evaluated in the
  kernel (shifu.grading.probe.answer), and only its *value* comes back, as plain JSON data. A
  function the test calls with values it computed itself becomes a stand-in that sends the
  arguments as data and gets the result as data.

So whatever a trainee's code does to its kernel, all it can choose is the values its own functions
return, which is what it is graded on anyway; comparisons, asserts and partial-credit arithmetic
run where it cannot reach. The kernel also never sees the hidden tests' code, only the calls that
name its objects (their arguments, never the expected values).

Known gaps (strict xfail tests in tests/test_grading_attacks.py): a method of the trainee's value called
with the test's own values (`reply.startswith("亲")`, `table.equals(expected)`) runs in the kernel, where
a subclass or a patched pandas answers it (and sees `expected`); names bound by the notebook's setup
cells (reference data) are read from the kernel, where a cell of the trainee's can rebind them.

What the kernel printed while answering goes into the test cell's output as it would under
nbgrader (stderr still scores the cell 0, as nbgrader does). A value that cannot travel as data
(an instance of the trainee's own class, a figure) compares equal to nothing. The cell gets the
outputs nbgrader reads: an error, or the last expression's value (execute_result), and stdout.
"""
from __future__ import annotations

import ast
import asyncio
import builtins
import functools
import io
import json
import math
import numbers
import threading
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_output

from shifu.grading import probe
from shifu.grading.limits import KEEP_OUTPUT_CHARS

REMOTE = "__shifu_remote__"
TIMEOUT_ENAME = "CellTimeoutError"
_BUILTINS = set(dir(builtins))
_ENDS_ITERATION = {"StopIteration", "StopAsyncIteration"}


@dataclass(frozen=True)
class TestCell:
    """One test cell the grader evaluates: its code (SOURCE notebook) and the names bound by imports."""

    grade_id: str
    source: str


@dataclass(frozen=True)
class JudgedCells:
    """A notebook's judged test cells (grade_id → TestCell) and the source notebook's import statements."""

    cells: dict[str, TestCell]
    imports: tuple[str, ...]
    # test cells whose outputs the grader writes itself afterwards (rescore: replies, role-plays, quizzes):
    # running them in the kernel would only be thrown away, so they are not run at all
    not_run: frozenset[str] = frozenset()

    @classmethod
    def from_source(cls, nb: NotebookNode, skip: set[str], not_run: set[str] | None = None) -> "JudgedCells":
        """Every graded code cell that is not an answer cell and not in SKIP (cells scored elsewhere);
        NOT_RUN: grade_ids of cells that are neither run in the kernel nor judged here (rescored later)."""
        cells: dict[str, TestCell] = {}
        imports: list[str] = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.get("metadata", {}).get("nbgrader", {})
            meta = meta if isinstance(meta, dict) else {}
            if not meta.get("solution"):
                imports += _imports(cell.source)
            gid = str(meta.get("grade_id", ""))
            if meta.get("grade") and not meta.get("solution") and gid and gid not in skip and gid not in cells:
                cells[gid] = TestCell(gid, cell.source)
        return cls(cells, tuple(dict.fromkeys(imports)), frozenset(not_run or ()))


def _imports(source: str) -> list[str]:
    """The cell's import statements. A cell with IPython syntax (the labs' setup cell opens with
    `%matplotlib inline`) is read as IPython reads it: skipping it would leave `pd`, `np` … to the
    kernel, where the trainee's code can rebind them and so answer the test's own checks."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
        except SyntaxError:
            return []
    return [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


# -- cutting the trainee's parts out of a test -----------------------------------------------------

def _bound(tree: ast.AST) -> set[str]:
    """Names the test binds itself (assignments, loops, functions, arguments, imports, comprehensions)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
    return out


class _Remote(ast.NodeTransformer):
    """Replace each largest expression made only of the trainee's names, literals, calls, attributes and
    subscripts by __shifu_remote__("<its source>"): those run in the kernel, the rest runs here."""

    def __init__(self, kernel_names: set[str]):
        self.kernel_names = kernel_names

    def _pure(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.kernel_names and isinstance(node.ctx, ast.Load)
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return all(self._pure(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return all(k is not None and self._pure(k) for k in node.keys) and all(self._pure(v) for v in node.values)
        if isinstance(node, ast.Call):
            return (self._pure(node.func) and all(self._pure(a) for a in node.args)
                    and all(self._pure(k.value) for k in node.keywords))
        if isinstance(node, ast.Attribute):
            return isinstance(node.ctx, ast.Load) and self._pure(node.value)
        if isinstance(node, ast.Subscript):
            return isinstance(node.ctx, ast.Load) and self._pure(node.value) and self._pure(node.slice)
        if isinstance(node, ast.Slice):
            return all(p is None or self._pure(p) for p in (node.lower, node.upper, node.step))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return isinstance(node.operand, ast.Constant)
        if isinstance(node, ast.Starred):
            return self._pure(node.value)
        return False

    def _names_kernel(self, node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id in self.kernel_names for n in ast.walk(node))

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, old in ast.iter_fields(node):
            if isinstance(old, list):
                new = []
                for item in old:
                    if isinstance(item, ast.AST):
                        item = self._swap(item)
                    if item is not None:
                        new.append(item)
                old[:] = new
            elif isinstance(old, ast.AST):
                setattr(node, field, self._swap(old))
        return node

    def _swap(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr) and not isinstance(node, ast.Starred) and self._pure(node) \
                and self._names_kernel(node):
            call = ast.Call(func=ast.Name(REMOTE, ast.Load()), args=[ast.Constant(ast.unparse(node))], keywords=[])
            return ast.copy_location(call, node)
        return self.visit(node)


def rewrite(source: str, grader_names: set[str]) -> ast.Module:
    """The test SOURCE with the trainee's parts cut out (module docstring). grader_names: names the grader
    binds itself (imports). SyntaxError when the source does not parse."""
    tree = ast.parse(source)
    kernel = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    kernel -= _bound(tree) | grader_names | _BUILTINS
    tree = _Remote(kernel).visit(tree)
    return ast.fix_missing_locations(tree)


# -- running a test ----------------------------------------------------------------------------------

class KernelGone(BaseException):
    """The kernel died while answering a probe (a BaseException, like the interrupt it stands for: a
    test's `except Exception` must not swallow it)."""


class ProbeTimeout(BaseException):
    """The trainee's code ran past the cell's time while answering a probe (BaseException: see KernelGone)."""


def _exception(name: str, message: str) -> BaseException:
    """An exception of the type the trainee's code raised, made here (a builtin type where there is one).

    Never a real StopIteration: raised from a stand-in inside the test's map()/filter()/next(), it would
    end the test's loop quietly (all() of nothing is True) instead of failing it; a class of the same name
    that is only an Exception reads the same in the feedback (as PEP 479 does for generators)."""
    cls = getattr(builtins, name, None)
    if name in _ENDS_ITERATION or not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = type(name if name.isidentifier() else "TraineeError", (Exception,), {})
    try:
        return cls(message)
    except Exception:
        return Exception(message)


class Judge:
    """Evaluates one notebook's judged test cells against its kernel (see the module docstring)."""

    def __init__(self, judged: JudgedCells):
        self.judged = judged
        self._grader_names = set()
        for line in judged.imports:
            self._grader_names |= _bound(ast.parse(line))

    def takes(self, cell: NotebookNode) -> bool:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return cell.cell_type == "code" and isinstance(meta, dict) and bool(meta.get("grade")) \
            and not meta.get("solution") and (meta.get("grade_id") in self.judged.cells
                                              or meta.get("grade_id") in self.judged.not_run)

    async def run_cell(self, kc: Any, km: Any, cell: NotebookNode, timeout: float | None) -> bool:
        """Evaluate CELL's test and set its outputs; True when it ran past TIMEOUT. KernelGone when the kernel died."""
        gid = cell.metadata["nbgrader"]["grade_id"]
        if gid not in self.judged.cells:   # rescored by the grader afterwards: nothing to run
            cell.outputs = []
            return False
        test = self.judged.cells[gid]
        loop = asyncio.get_running_loop()
        deadline = None if not timeout or timeout < 0 else loop.time() + timeout
        streams: list[tuple[str, str]] = []   # (stdout | stderr, text) in the order they came
        state = {"timed_out": False, "gone": False}
        kept = [0]   # characters of the kernel's printing kept, for the whole cell (a test may ask many times)

        async def ask(expr: str, call: str | None) -> Any:
            code = (f"__import__('shifu.grading.probe', fromlist=['answer']).answer({expr!r}"
                    + (f", {call!r})" if call is not None else ")"))
            got: list[str] = []

            def hook(msg: dict) -> None:
                kind, content = msg.get("msg_type"), msg.get("content") or {}
                if kind == "display_data" and isinstance(content.get("data"), dict) and probe.MIME in content["data"]:
                    got.append(str(content["data"][probe.MIME]))
                elif kind == "stream" and kept[0] < KEEP_OUTPUT_CHARS:
                    text = str(content.get("text", ""))[:KEEP_OUTPUT_CHARS - kept[0]]
                    kept[0] += len(text)
                    streams.append((str(content.get("name", "stdout")), text))
                elif kind == "error":
                    got.append(json.dumps({"raised": str(content.get("ename", "Error")),
                                           "message": str(content.get("evalue", ""))[:500]}))
            try:
                await _exchange(kc, code, hook, deadline, loop)
            except TimeoutError:
                if not await km.is_alive():
                    state["gone"] = True
                    raise KernelGone() from None
                state["timed_out"] = True
                await km.interrupt_kernel()
                raise ProbeTimeout() from None
            if not got:
                if not await km.is_alive():
                    state["gone"] = True
                    raise KernelGone()
                return {"raised": "RuntimeError", "message": "no answer from the notebook"}
            try:
                return json.loads(got[-1])
            except ValueError:
                return {"raised": "RuntimeError", "message": "unreadable answer from the notebook"}

        def remote(expr: str, call: str | None = None) -> Any:
            future = asyncio.run_coroutine_threadsafe(ask(expr, call), loop)
            payload = future.result()
            if not isinstance(payload, dict) or "ok" not in payload:
                raise _exception(str(payload.get("raised", "RuntimeError")), str(payload.get("message", "")))
            return probe.decode(payload["ok"], callable_for=lambda: _stand_in(expr, remote))

        done: asyncio.Future = loop.create_future()

        def work() -> None:
            try:
                result: Any = _evaluate(test.source, self.judged.imports, self._grader_names, remote)
            except BaseException as exc:  # handed to the event loop
                result = exc
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))
        threading.Thread(target=work, name="shifu-judge", daemon=True).start()
        wait = None if deadline is None else max(1.0, deadline - loop.time()) + 30.0
        try:
            result = await asyncio.wait_for(done, timeout=wait)
        except asyncio.TimeoutError:   # the course's own test code ran away: nothing the trainee did
            result = ProbeTimeout()
            state["timed_out"] = True
        if state["gone"]:
            raise KernelGone()
        cell.outputs = _outputs(result, streams, cell.get("execution_count"), state["timed_out"], timeout)
        return state["timed_out"]


async def _exchange(kc: Any, code: str, hook: Any, deadline: float | None, loop: asyncio.AbstractEventLoop) -> None:
    """Execute CODE; hand each of its output messages to HOOK until the kernel is idle, then take its reply.
    The same channel reads nbclient makes (no zmq Poller, which would take the sockets' event-loop readers).
    TimeoutError past DEADLINE (loop time)."""
    from queue import Empty

    def left() -> float | None:
        return None if deadline is None else max(0.0, deadline - loop.time())
    msg_id = kc.execute(code, silent=False, store_history=False, allow_stdin=False)
    try:
        while True:
            msg = await kc.iopub_channel.get_msg(timeout=left())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg.get("msg_type") == "status" and msg.get("content", {}).get("execution_state") == "idle":
                break
            hook(msg)
        while True:
            msg = await kc.shell_channel.get_msg(timeout=left())
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return
    except Empty:
        raise TimeoutError("no answer in time") from None


def _stand_in(expr: str, remote: Any) -> Any:
    """A callable of the trainee's, called from the grader: arguments go to the kernel as data."""
    def call(*args: Any, **kwargs: Any) -> Any:
        return remote(expr, json.dumps([probe.encode(list(args)), probe.encode(dict(kwargs))]))
    return functools.update_wrapper(call, lambda: None, assigned=(), updated=())


@dataclass
class _Ran:
    value: Any
    printed: str


def _evaluate(source: str, imports: tuple[str, ...], grader_names: set[str], remote: Any) -> _Ran:
    """Run the test here: the source notebook's imports, then the rewritten test; its last expression's value."""
    printed = io.StringIO()
    ns: dict[str, Any] = {"__builtins__": builtins, "__name__": "__shifu_test__", REMOTE: remote,
                          "print": functools.partial(print, file=printed)}
    for line in imports:
        try:
            exec(compile(line, "<import>", "exec"), ns)  # noqa: S102 — the course's own import lines
        except Exception:
            pass   # the kernel had the same trouble; the test then fails on the missing name
    try:
        tree = rewrite(source, grader_names | set(ns))
    except SyntaxError:   # IPython syntax (%magic, !command): read it as IPython would, then cut it up
        from IPython.core.inputtransformer2 import TransformerManager

        tree = rewrite(TransformerManager().transform_cell(source), grader_names | set(ns))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<test>", "exec"), ns)  # noqa: S102 — the course's own test code
    value = None
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "<test>", "eval"), ns)  # noqa: S307
    return _Ran(value, printed.getvalue()[:KEEP_OUTPUT_CHARS])


def _not_a_score(value: Any) -> bool:
    """A number that is NaN or infinite: nbgrader gives full marks for NaN (it is not >= 0) and fails on inf."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(float(value))


def _plain(value: Any) -> str:
    """The last value as nbgrader reads it: a number as a plain number (numpy 2 writes np.float64(1.0), which
    nbgrader cannot read and so scores as full marks), anything else as its repr (capped)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return repr(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))
    return repr(value)[:KEEP_OUTPUT_CHARS]


def _outputs(result: Any, streams: list[tuple[str, str]], count: Any, timed_out: bool,
             timeout: float | None) -> list[NotebookNode]:
    outs: list[NotebookNode] = []
    for name, text in streams:      # what the trainee's code printed while answering, as nbgrader shows it
        if outs and outs[-1].get("name") == name:
            outs[-1]["text"] += text
        elif text:
            outs.append(new_output("stream", name=name, text=text))
    if isinstance(result, _Ran) and not timed_out:
        if result.printed:
            outs.append(new_output("stream", name="stdout", text=result.printed))
        if _not_a_score(result.value):
            result = ValueError(f"the test's score is not a number: {float(result.value)!r}")
        else:
            if result.value is not None:
                outs.append(new_output("execute_result", data={"text/plain": _plain(result.value)},
                                       execution_count=count))
            return outs
    if timed_out or isinstance(result, ProbeTimeout):
        ename, evalue = TIMEOUT_ENAME, "Cell execution timed out" + (f" after {timeout:g} s" if timeout else "")
    else:
        ename, evalue = type(result).__name__, str(result)[:500]
    # no source lines in the traceback: the test's hidden part stays hidden in the feedback
    outs.append(new_output("error", ename=ename, evalue=evalue,
                           traceback=[f"{ename}: {evalue}" if evalue else ename]))
    return outs


__all__ = ["Judge", "JudgedCells", "TestCell", "KernelGone", "rewrite"]
