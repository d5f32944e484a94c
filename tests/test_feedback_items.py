"""The trainee's feedback page: every graded item named by its exercise and criterion, in Chinese,
on the cell's own scale (issue 12: fourteen items all called "Test cell")."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import grading_course as gc  # noqa: E402

from shifu.reading.feedback_text import feedback_text
from shifu.grading.feedback_items import item_name


def test_items_are_named_by_exercise_and_criterion():
    text = feedback_text().page
    labels = {"need_tracing": "需求追原因", "communication": "沟通能力", "forecasting_staffing": "服务预测与排班",
              "de_escalation": "情绪安抚"}
    assert item_name("q3_reply__need_tracing", text, labels) == "第3题 · 需求追原因"
    assert item_name("q3_reply", text, labels) == "第3题 · 你的回答"
    assert item_name("roleplay_1__de_escalation", text, labels) == "角色扮演 · 情绪安抚"
    assert item_name("review__communication", text, labels) == "导师点评 · 沟通能力"
    assert item_name("ex2_staff__forecasting_staffing", text, labels) == "练习2 · 服务预测与排班"
    assert item_name("partial__communication", text, labels) == "沟通能力"  # another `__<tag>` id: its label
    assert item_name("scratch", text, labels) == "scratch"  # no tag: its id


@pytest.mark.slow
def test_feedback_page_speaks_chinese_and_names_every_item(tmp_path: Path) -> None:
    from shifu.grading import grade_course

    course = gc.build_course(tmp_path / "course", cell_timeout=60)
    gc.submit(course, "good", gc.answered(course, gc.GOOD))
    results = grade_course(course, workers=1)
    assert results[0].graded, results[0].reason
    html = "\n".join(p.read_text(encoding="utf-8") for p in (course / "feedback" / "good").rglob("*.html"))
    for english in ("Test cell", "Score:", "Student's answer", "Grade cell", "Comments:", "(Top)"):
        assert english not in html
    toc = html[html.index('<div id="toc">'):html.index("</ol>", html.index('<div id="toc">'))]
    items = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', toc)
    assert items and all(name != gid for gid, name in items if "__" in gid), items
    assert "得分" in toc and "回到目录" in html
