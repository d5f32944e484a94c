"""The trainee's side of a module notebook: `%%reply` cells in a real IPython shell, the Chinese
提交前检查 on a saved notebook, and practice feedback that exists only in practice modules."""
from __future__ import annotations

import re

import nbformat
import pytest

from shifu.roleplay.attempts import choose
from shifu.course.authoring import build_notebook, scenarios_of
from shifu.course.layout import authoring_dir
from shifu.course.precheck import check_notebook, report
from shifu.course.spec import course_text, load_module
from shifu.roleplay.transcript.replay import play_script
from shifu.roleplay.scenario import load_scenario

A = "m01_logistics"
SC = "late-parcel-wrong-station"
STUB = "# 在这里写你的答案\nraise NotImplementedError()"
GOOD = ["亲,您好,我是跑者之家的客服小林。三天没有物流更新确实让人着急,非常理解您的心情,真的抱歉让您久等了!我马上帮您查。您有没有接到快递员的电话,或者看到包裹在哪个派送站点?",
        "谢谢您告诉我!这双鞋您最晚什么时候需要拿到呢?是急着哪天用吗?"]


@pytest.fixture(scope="module")
def spec():
    return load_module(authoring_dir() / f"{A}.yaml")


def _release(spec, tmp_path, replies: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """The module as a trainee gets it (solutions replaced by nbgrader's stub), answers filled in."""
    nb = build_notebook(spec, scenarios_of(spec), course_text())
    for cell in nb.cells:
        info = cell.metadata.get("shifu", {})
        if info.get("kind") == "reply":
            body = (replies or {}).get(info["variable"], STUB)
            cell.source = re.sub(r"### BEGIN SOLUTION.*### END SOLUTION", lambda _m: body, cell.source, flags=re.S)
    path = tmp_path / f"{A}.ipynb"
    nbformat.write(nb, path)
    return path


def test_an_untouched_notebook_lists_everything_missing_in_chinese(spec, tmp_path):
    check = check_notebook(_release(spec, tmp_path))
    assert not check.ready and not check.done
    assert [m.split(":")[0] for m in check.missing] == ["练习 1", "练习 2", "角色扮演"]
    text = report(check)
    plain = re.sub(r"%%reply|Shift\+Enter|Ctrl\+S", "", text.replace(f"{A}.ipynb", ""))  # names of keys and the cell form
    assert "还有 3 项没完成" in text and not re.search(r"[A-Za-z]{4,}", plain), plain


def test_answers_and_a_finished_role_play_make_it_ready(spec, tmp_path):
    path = _release(spec, tmp_path, {"q1_reply": "亲,您好!\n请问您的包裹显示在哪个驿站?",
                                     "q2_reply": 'q2_reply = """\n我马上联系快递改派,下午3点前回复您,您看可以吗?\n""'})
    play_script(load_scenario(SC), [(r, 10.0) for r in GOOD], tmp_path / f"{SC}.jsonl")
    check = check_notebook(path)
    assert check.ready, check.missing
    assert check.done[0].startswith("练习 1") and "角色扮演:交第 1 次对话(共 1 次)" in check.done[-1]
    assert "可以按导师通知的方式提交" in report(check)


def test_the_attempt_to_hand_in_must_be_finished(spec, tmp_path):
    from shifu.roleplay.engine import Engine

    path = _release(spec, tmp_path, {"q1_reply": "亲,您好", "q2_reply": "好的"})
    play_script(load_scenario(SC), [(r, 10.0) for r in GOOD], tmp_path / f"{SC}.1.jsonl")
    engine = Engine(SC, transcript_path=tmp_path / f"{SC}.jsonl")
    engine.opening()
    assert check_notebook(path).ready  # the finished first attempt is handed in by default
    choose(tmp_path, f"{SC}.jsonl", f"{SC}.jsonl")
    check = check_notebook(path)
    assert not check.ready and "第 2 次对话还没结束" in check.missing[0]


def test_a_cell_that_stopped_with_an_error_is_named(spec, tmp_path):
    path = _release(spec, tmp_path, {"q1_reply": "亲,您好", "q2_reply": "好的"})
    nb = nbformat.read(path, as_version=4)
    nb.cells[5].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x", traceback=[])]
    nbformat.write(nb, path)
    assert any("第 6 格运行时出错了" in m for m in check_notebook(path).missing)


def test_reply_magic_and_practice_feedback_in_a_real_shell(spec, tmp_path, capsys, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext shifu.course.notebook")
    shell.run_cell('%%reply q1_reply\n# 提示\n亲,您好!"""我马上帮您查\'一下\'。\n请问包裹显示在哪个驿站?')
    assert shell.user_ns["q1_reply"] == '亲,您好!"""我马上帮您查\'一下\'。\n请问包裹显示在哪个驿站?'
    assert "已记下你的回复" in capsys.readouterr().out
    shell.run_cell(f"%%reply q2_reply\n# 提示\n{STUB}")
    assert shell.user_ns["q2_reply"] == "" and "还没有写回复" in capsys.readouterr().out
    from shifu.course.notebook import practice_feedback, practice_feedback_roleplay

    ex = spec.exercises[0]
    practice_feedback("q1_reply", SC, ex.buyer, dict(ex.criteria))
    out = capsys.readouterr().out
    assert "情绪安抚" in out and "合计" in out and "不计入成绩" in out
    monkeypatch.chdir(tmp_path)
    practice_feedback_roleplay(SC, dict(spec.roleplays[0].criteria))
    assert "还没有对话记录" in capsys.readouterr().out
    play_script(load_scenario(SC), [(r, 10.0) for r in GOOD], tmp_path / f"{SC}.jsonl")
    practice_feedback_roleplay(SC, dict(spec.roleplays[0].criteria))
    out = capsys.readouterr().out
    assert "第 1 次对话" in out and "需求追原因" in out and "合计" in out


def test_practice_feedback_cells_only_in_practice_modules(spec):
    practice = build_notebook(spec, scenarios_of(spec), course_text())
    exam = build_notebook(spec.model_copy(update={"mode": "exam"}), scenarios_of(spec), course_text())
    kinds = lambda nb: [c.metadata.get("shifu", {}).get("kind") for c in nb.cells]  # noqa: E731
    assert kinds(practice).count("feedback") == len(spec.exercises) + 1
    assert "feedback" not in kinds(exam) and "practice_feedback" not in "".join(c.source for c in exam.cells)
    assert kinds(exam)[-1] == "precheck" and exam.metadata["shifu"]["mode"] == "exam"
