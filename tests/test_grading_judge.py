"""The grader-side judge of hand-written test cells (shifu.grading.judge) and its data channel (probe).

Fast checks without a kernel: what is cut out of a test and sent to the kernel, how a test runs in the
grader on values that came back as data. The end-to-end attacks are in test_grading_attacks.py.
"""
from __future__ import annotations

import ast
import json

import pytest

from shifu.grading import probe
from shifu.grading.judge import REMOTE, ProbeTimeout, _evaluate, _outputs, rewrite


def _sent(source: str, grader_names: set[str] | None = None) -> list[str]:
    tree = rewrite(source, grader_names or set())
    return [n.args[0].value for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == REMOTE]


@pytest.mark.parametrize("source, sent", [
    ("assert average_wait([2, 4]) == 3\n", ["average_wait([2, 4])"]),
    ("means, rate = reply_stats(orders)\nassert means['自营店'] < 20\n", ["reply_stats(orders)"]),
    ("assert abs(bonus_rate(89.9) - 0.1) < 1e-9\n", ["bonus_rate(89.9)"]),
    ("assert len(frt_stats) == 3 and frt_stats.loc['A', 'p90'] > 0\n", ["frt_stats", "frt_stats.loc['A', 'p90']"]),
    # a value the test computed itself: the function travels as a stand-in, the argument as data
    ("xs = [1, 2]\nassert [average_wait([x]) for x in xs] == xs\n", ["average_wait"]),
    # the test's own imports stay in the grader: the check never runs in the kernel
    ("import math\nassert math.isclose(f(1), 2)\n", ["f(1)"]),
])
def test_only_the_trainees_parts_go_to_the_kernel(source: str, sent: list[str]) -> None:
    got = _sent(source)
    assert sorted(got) == sorted(sent)
    for expr in got:   # no comparison, assert or arithmetic on the trainee's values is done by the kernel
        assert not any(op in expr for op in ("==", "<", ">", "assert", "abs(", "isclose"))


def test_names_the_grader_imports_are_not_the_trainees() -> None:
    assert _sent("pd.testing.assert_frame_equal(result(df), df)\n", {"pd"}) == ["result(df)", "df"]


def _fake_kernel(values: dict[str, object]):
    asked: list[tuple[str, str | None]] = []

    def remote(expr: str, call: str | None = None):
        asked.append((expr, call))
        if call is not None:
            args, _ = json.loads(call)
            return values[expr](*probe.decode(args))   # type: ignore[operator]
        if expr not in values:
            raise NameError(expr)
        return values[expr]
    return remote, asked


def test_a_partial_credit_test_scores_in_the_grader() -> None:
    source = ("score = 0.0\ntry:\n    if average_wait([1, 2, 3]) == 2:\n        score += 1.0\n"
              "    if average_wait([]) == 0:\n        score += 1.0\nexcept Exception:\n    pass\nscore\n")
    remote, asked = _fake_kernel({"average_wait([1, 2, 3])": 2.0, "average_wait([])": 7})
    ran = _evaluate(source, (), set(), remote)
    assert ran.value == 1.0
    assert [a for a, _ in asked] == ["average_wait([1, 2, 3])", "average_wait([])"]


def test_a_stand_in_sends_arguments_as_data() -> None:
    remote, asked = _fake_kernel({"average_wait": probe.decode(probe.encode(len))})
    # the kernel said "a callable": the grader builds a stand-in that calls back with encoded arguments
    def remote_callable(expr: str, call: str | None = None):
        if call is None:
            return lambda *a: remote_call(expr, a)
        return remote(expr, call)

    def remote_call(expr: str, args: tuple) -> object:
        return sum(args[0]) / len(args[0])
    ran = _evaluate("xs = [2, 4]\nassert average_wait(xs) == 3\n", (), set(), remote_callable)
    assert ran.value is None


def test_values_travel_as_plain_data() -> None:
    value = {"a": (1, 2.5, None), "b": [True, "亲"], 3: {1, 2}}
    assert probe.decode(json.loads(json.dumps(probe.encode(value)))) == value
    assert probe.encode(float("nan"))["v"] == "nan"
    assert probe.encode(10 ** 30) == {"t": "int", "v": str(10 ** 30)}


def test_a_value_that_claims_to_equal_anything_equals_nothing() -> None:
    class Anything:
        def __eq__(self, other: object) -> bool:
            return True
    decoded = probe.decode(json.loads(json.dumps(probe.encode(Anything()))))
    assert decoded != 3 and not (decoded == 3)
    assert probe.decode(probe.encode(print)) != print


def test_malformed_data_is_refused() -> None:
    for bad in ({"t": "pickle", "v": "gASV"}, {"t": "str", "v": 3}, "x", None):
        with pytest.raises((ValueError, TypeError)):
            probe.decode(bad)


def test_a_test_that_ran_out_of_time_scores_nothing_even_if_it_caught_everything() -> None:
    def remote(expr: str, call: str | None = None):
        raise ProbeTimeout()
    ran: object
    try:
        ran = _evaluate("score = 0.0\ntry:\n    f()\nexcept Exception:\n    score = 2.0\nscore\n", (), set(), remote)
    except ProbeTimeout as exc:   # `except Exception` in the test does not swallow the timeout
        ran = exc
    outs = _outputs(ran, [], None, True, 10)
    assert [o["output_type"] for o in outs] == ["error"]


def test_stderr_from_the_kernel_still_zeroes_the_cell_as_under_nbgrader() -> None:
    outs = _outputs(_evaluate("1.0\n", (), set(), lambda e, c=None: None), [("stderr", "FutureWarning: ...\n")],
                    None, False, None)
    assert outs[0]["name"] == "stderr"
    assert outs[-1]["output_type"] == "execute_result"


def test_hidden_test_code_stays_out_of_the_error_shown() -> None:
    def remote(expr: str, call: str | None = None):
        return 4
    try:
        _evaluate("assert average_wait([5]) == 5  # hidden\n", (), set(), remote)
    except AssertionError as exc:
        outs = _outputs(exc, [], None, False, None)
    assert "average_wait" not in json.dumps(outs)


def test_an_exception_the_trainee_raised_never_ends_the_tests_own_loop() -> None:
    from shifu.grading.judge import _exception

    for name in ("StopIteration", "StopAsyncIteration"):
        exc = _exception(name, "done")
        assert type(exc).__name__ == name and not isinstance(exc, (StopIteration, StopAsyncIteration))

    def remote(expr: str, call: str | None = None):
        if call is None:
            return lambda *a: (_ for _ in ()).throw(_exception("StopIteration", ""))
        raise AssertionError
    with pytest.raises(Exception, match="^$"):   # all() over a map the stand-in cut short would be True
        _evaluate("assert all(map(lambda m: f([m]) == m, (1, 5)))\n", (), set(), remote)
    assert type(_exception("ValueError", "x")) is ValueError


@pytest.mark.parametrize("value, text", [(__import__("numpy").float64(1.5), "1.5"), (__import__("numpy").int64(2), "2"),
                                         (1.0, "1.0"), ("x", "'x'"), (True, "True")])
def test_a_partial_score_is_written_as_a_plain_number(value: object, text: str) -> None:
    from shifu.grading.judge import _Ran

    outs = _outputs(_Ran(value, ""), [], 3, False, None)
    assert outs[-1]["data"]["text/plain"] == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), __import__("numpy").float64("nan")])
def test_a_score_that_is_not_a_number_is_an_error(value: object) -> None:
    from shifu.grading.judge import _Ran

    outs = _outputs(_Ran(value, ""), [], 3, False, None)
    assert [o["output_type"] for o in outs] == ["error"]


def test_imports_in_a_cell_with_a_magic_are_the_graders() -> None:
    from nbformat.v4 import new_code_cell, new_notebook

    from shifu.grading.judge import JudgedCells

    nb = new_notebook(cells=[new_code_cell("%matplotlib inline\nimport numpy as np\nfrom shifu.datagen import lab_data\n")])
    assert JudgedCells.from_source(nb, set()).imports == ("import numpy as np", "from shifu.datagen import lab_data")
    assert _sent("assert np.isclose(rate, 0.4)\n", {"np"}) == ["rate"]
