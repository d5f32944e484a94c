"""What the trainee's feedback page calls each graded item, and the page's own words.

nbgrader's feedback page lists every graded cell as "Test cell" with "Score: …" in English. Shifu's
template (templates/shifu_feedback) shows instead the name set here on each cell, read from its
grade id by the course's convention (shifu.course.authoring):

    q3_reply                 the answer cell of exercise 3       → 第3题 · 你的回答
    q3_reply__need_tracing   exercise 3, one rubric criterion    → 第3题 · 需求追原因
    roleplay_1__de_escalation  the role-play, one criterion      → 角色扮演 · 情绪安抚
    review__communication    the mentor's 导师点评 of an ability  → 导师点评 · 沟通能力
    ex2_staff__forecasting_staffing  a lab exercise              → 练习2 · 服务预测与排班

Labels come from the rubrics and competencies (grader/), wording from grader/feedback.yaml `page:`.
Any other `…__<tag>` id is named by its tag's label; an id without a known tag keeps its id.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from nbconvert.preprocessors import Preprocessor

from shifu.reading.feedback_text import PageText, feedback_text

_ID = re.compile(r"^(?P<kind>q|ex|roleplay_)(?P<n>\d+)[A-Za-z0-9_]*?(?:__(?P<tag>[A-Za-z0-9_]+))?$")
_REVIEW = re.compile(r"^review__(?P<tag>[A-Za-z0-9_]+)$")


@lru_cache(maxsize=4)
def _labels(grader_dir: str) -> dict[str, str]:
    """tag (criterion, competency or sub-skill id) → its Chinese label."""
    from shifu.progress.config import load_taxonomy

    tax = load_taxonomy(Path(grader_dir))
    out = dict(tax.criterion_labels)
    for c in tax.competencies:
        out[c.id] = c.label
        out.update({s.id: s.label for s in c.sub_skills})
    return out


def item_name(grade_id: str, text: PageText, labels: dict[str, str]) -> str:
    """The name a trainee reads for one graded item (see the module docstring)."""
    m = _REVIEW.match(grade_id)
    if m:
        return text.item_review.format(label=labels.get(m["tag"], m["tag"]))
    m = _ID.match(grade_id)
    if not m:
        tag = grade_id.rsplit("__", 1)[1] if "__" in grade_id else ""
        return text.item_other.format(label=labels.get(tag, grade_id))
    n, tag = int(m["n"]), m["tag"]
    label = labels.get(tag, tag) if tag else ""
    if m["kind"] == "roleplay_":
        return text.item_roleplay.format(n=n, label=label or grade_id)
    if not tag:
        return text.item_answer.format(n=n)
    return (text.item_lab if m["kind"] == "ex" else text.item_exercise).format(n=n, label=label)


class FeedbackItems(Preprocessor):
    """Names every nbgrader cell (metadata.shifu_item) and puts the page's words in resources["shifu_page"].

    Runs after nbgrader's GetGrades, which puts the scores in resources["nbgrader"]."""

    def preprocess(self, nb, resources):
        from shifu.content import paths

        text = feedback_text().page
        labels = _labels(str(paths.grader_dir()))
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if gid and (meta.get("grade") or meta.get("solution") or meta.get("task")):
                cell.metadata["shifu_item"] = item_name(gid, text, labels)
        got = resources.get("nbgrader", {})
        page = text.model_dump()
        page["title"] = text.title.format(notebook=got.get("notebook", ""), score=_num(got.get("score")),
                                          max=_num(got.get("max_score")))
        resources["shifu_page"] = page
        return nb, resources


def _num(v: object) -> str:
    try:
        return f"{round(float(v), 2):g}"
    except (TypeError, ValueError):
        return "—"


TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "shifu_feedback"


def page_config(config):
    """A copy of the feedback converter's config whose HTML exporter renders Shifu's template (nbgrader's
    feedback template, found through its own template folder, stays the base)."""
    import copy

    cfg = copy.deepcopy(config)
    base = [str(p) for p in cfg.HTMLExporter.get("extra_template_basedirs", [])]
    cfg.HTMLExporter.extra_template_basedirs = [*base, str(TEMPLATES)]
    # `{% extends 'feedback/index.html.j2' %}` is looked up in nbgrader's own template folder
    cfg.HTMLExporter.extra_template_paths = [*cfg.HTMLExporter.get("extra_template_paths", []), *base]
    cfg.HTMLExporter.template_name = TEMPLATE_NAME
    return cfg
