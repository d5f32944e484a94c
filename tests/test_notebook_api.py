"""shifu.notebook, the one module course notebooks import from; and the older import paths, which
released and submitted notebooks froze into their cells, keep working with the very same objects."""
from __future__ import annotations

import importlib
import json

import pytest

import shifu.notebook as api
from shifu.course import layout

SC = "late-parcel-wrong-station"
BUYER = "在吗?我的鞋三天没更新物流了,你们到底发没发?"
GOOD = ("亲,您好,我是客服小美。非常抱歉让您久等了,理解您周六就要穿的着急心情。请问快递员有没有联系过您,"
        "包裹显示在哪个驿站呢?我马上联系网点改派,今天18点前给您回复,您看可以吗?")

# (old path a notebook cell may name, attribute) pairs that shifu.notebook must hand out unchanged.
# The paths are strings on purpose: they are what old notebooks say, whatever the package's layout is now.
OLD_NAMES = [
    ("shifu.nbgrader_helpers", "reply_points"), ("shifu.nbgrader_helpers", "transcript_points"),
    ("shifu.course.notebook", "roleplay_transcript"), ("shifu.course.notebook", "start_roleplay"),
    ("shifu.course.notebook", "practice_feedback"), ("shifu.course.notebook", "practice_feedback_roleplay"),
    ("shifu.course.notebook", "check_before_submit"), ("shifu.course.notebook", "load_ipython_extension"),
    ("shifu.datagen", "lab_data"), ("shifu.datagen", "pain_point_keywords"), ("shifu.fonts", "setup_cjk_font"),
    *[("shifu.labcheck", n) for n in ("Parts", "as_table", "drop_totals", "same_frame", "same_mapping",
                                       "same_number", "same_set")],
]


@pytest.mark.parametrize("old, name", OLD_NAMES)
def test_every_public_name_is_the_object_an_old_path_gives(old, name):
    assert getattr(api, name) is getattr(importlib.import_module(old), name)


def test_the_public_list_is_exactly_what_it_hands_out():
    assert sorted(api.__all__) == sorted({name for _, name in OLD_NAMES} | {"labcheck"})
    assert api.labcheck is importlib.import_module("shifu.labcheck")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        api.nope  # noqa: B018


@pytest.mark.parametrize("old", ["shifu.nbgrader_helpers", "shifu.course.notebook", "shifu.labcheck",
                                 "shifu.fonts", "shifu.datagen", "shifu.grading.labscore"])
def test_an_old_path_is_one_module_object_so_patching_either_name_patches_both(old, monkeypatch):
    module = importlib.import_module(old)
    parent, _, leaf = old.rpartition(".")
    assert getattr(importlib.import_module(parent), leaf) is module  # `from shifu import labcheck` form
    name = next(n for n in dir(module) if not n.startswith("__"))
    real = importlib.import_module(module.__name__)  # the module's home, whatever it is called now
    assert real is module
    monkeypatch.setattr(f"{old}.{name}", "patched")
    assert getattr(real, name) == "patched"


def _shell(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    return InteractiveShell.instance()


@pytest.mark.parametrize("setup, imports", [
    ("%load_ext shifu.course.notebook",
     "from shifu.nbgrader_helpers import reply_points\nfrom shifu import labcheck"),
    ("%load_ext shifu.notebook", "from shifu.notebook import reply_points, labcheck"),
])
def test_old_and_new_cells_run_and_score_the_same(setup, imports, monkeypatch, capsys):
    shell = _shell(monkeypatch)
    assert shell.run_cell(setup).success
    assert shell.run_cell(f"%%reply q1_reply\n# 提示\n{GOOD}").success
    assert shell.user_ns["q1_reply"] == GOOD
    cell = (f"{imports}\n"
            f"points = reply_points(q1_reply, {SC!r}, {BUYER!r}, 2.0, criterion='consensus_solution')\n"
            "same = labcheck.same_number(0.21, 0.2061, kind='rate')")
    result = shell.run_cell(cell)
    assert result.success, result.error_in_exec
    assert shell.user_ns["points"] == 2.0 and shell.user_ns["same"] is True
    assert "方案求共识" in capsys.readouterr().out


def test_course_notebooks_import_only_from_the_public_module():
    """The committed course (and what `shifu course author` writes) names shifu.notebook; labscore is the
    grader's own and stays where the lab test cells have always imported it from."""
    for nb_path in sorted(layout.source_dir().glob("*/*.ipynb")):
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
            for line in "".join(cell["source"]).splitlines():
                words = line.split()
                if line.startswith("%load_ext"):
                    assert words[1] == "shifu.notebook", (nb_path.name, line)
                elif words[:1] in (["from"], ["import"]) and words[1].startswith("shifu"):
                    assert words[1] in ("shifu.notebook", "shifu.grading"), (nb_path.name, line)
