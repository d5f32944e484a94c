"""Builders for progress/review tests: a grader folder with known thresholds, a small nbgrader
gradebook made through nbgrader's API, and role-play transcripts in the course layout."""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook

COMPETENCIES = """
competencies:
  - id: communication
    label: 沟通能力
  - id: product
    label: 产品能力
  - id: operations
    label: 运营能力
  - id: analysis
    label: 分析能力
    sub_skills:
      - {id: kpi_reporting, label: 统一KPI报表}
      - {id: forecasting_staffing, label: 服务预测与排班}
      - {id: complaint_analysis, label: 客诉分析与周播报}
  - id: business
    label: 业务能力
levels:
  - {id: insufficient, label: 证据不足, min_score: null}
  - {id: beginner, label: 入门, min_score: 0}
  - {id: developing, label: 成长, min_score: 60}
  - {id: proficient, label: 熟练, min_score: 75}
  - {id: expert, label: 精通, min_score: 90}
"""

RUBRIC = """
id: after_sales
criteria:
  - {id: timeliness, label: 响应时效, competency: communication, points: 2}
  - {id: de_escalation, label: 情绪安抚, competency: communication, points: 2}
  - {id: policy_accuracy, label: 政策与产品准确, competency: operations, points: 2}
  - {id: conversion, label: 转化与挽留, competency: business, points: 2}
"""

PROGRESS_RULES = """
proficiency:
  min_items: 2
  max_age_days: 100
  half_life_days: 30
  undated_weight: 0.5
response_time:
  benchmark_s: 19
at_risk:
  behind_median_points: 15
  weak_ability_points: 20
  below_score: 60
  falling_points: 15
  missing_submissions: 2
  missing_window: 3
  insufficient_abilities: 5
trend:
  recent_assignments: 1
  min_earlier: 1
improvement:
  top: 10
tables:
  top: 15
  max_rows: 500
heatmap_max_rows: 60
calibration:
  mentor_cells: "^review__"
  signature: '导师[:：]\\s*(?P<mentor>[^\\s)）]+)\\s*[)）]?\\s*$'
  roster: mentors.csv
  min_pairs: 3
  bias_points: 10
  top: 10
"""


def progress_yaml() -> str:
    """Known thresholds for hand-computed tests; the wording (`text:`, `columns:`) is the repository's own."""
    import yaml

    from shifu.content import paths

    own = yaml.safe_load((paths.grader_dir() / "progress.yaml").read_text(encoding="utf-8"))
    return PROGRESS_RULES + yaml.safe_dump({"text": own["text"], "columns": own["columns"]}, allow_unicode=True)

REVIEW = """
parts: {kpi: 0.6, competencies: 0.3, apprentices: 0.1}
kpi:
  bar: 90
  cap: 1.2
  min_months: 3
  agent_column: agent_id
  month_column: month
  components:
    response_time: {label: 响应时间, column: response_time_s, better: lower, target: 20, points: 20}
    conversion: {label: 询盘转化, column: conversion, better: higher, target: 0.40, points: 25}
    positive_rate: {label: 好评率, column: positive_rate, better: higher, target: 1.0, points: 20}
    quality: {label: 质检, column: qc_score, better: higher, target: 100, points: 25}
    complaints: {label: 差评投诉, column: complaint_rate, better: lower, target: 0.01, points: 10}
competencies: {min_abilities: 1, max_age_days: 365}
tables: {total_markers: [合计, 总计, total]}
apprentices: {passed: ["true", 是, 通过], failed: ["false", 否, 未通过]}
"""


def write_grader(root: Path, rubric: str = RUBRIC) -> Path:
    g = root / "grader"
    (g / "rubrics").mkdir(parents=True, exist_ok=True)
    (g / "competencies.yaml").write_text(COMPETENCIES, encoding="utf-8")
    (g / "rubrics" / "after_sales.yaml").write_text(rubric, encoding="utf-8")
    (g / "progress.yaml").write_text(progress_yaml(), encoding="utf-8")
    (g / "review.yaml").write_text(REVIEW, encoding="utf-8")
    return g


def db_url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


# (cell name, max, cell type): every tag kind of the convention, one unknown tag, one without a tag
CELLS = {
    "m01_logistics": [("q1_reply__de_escalation", 2.0, "code"), ("q2_letter__communication", 4.0, "markdown"),
                      ("roleplay_1__timeliness", 2.0, "code"), ("q3_extra__no_such_tag", 1.0, "code"),
                      ("scratch", 1.0, "code")],
    "m02_refunds": [("q1_policy__policy_accuracy", 2.0, "code"), ("q2_reply__de_escalation", 2.0, "code"),
                    ("q3_essay__operations", 4.0, "markdown")],
    "lab1_kpi": [("ex1_kpi__kpi_reporting", 5.0, "code"), ("ex2_staff__forecasting_staffing", 5.0, "code"),
                 ("review__business", 3.0, "markdown")],
}
DUE = {"m01_logistics": datetime(2026, 3, 1), "m02_refunds": datetime(2026, 4, 1), "lab1_kpi": datetime(2026, 5, 1)}


_TEMPLATE: list[Path] = []


def build_gradebook(course: Path, empty: bool = False) -> str:
    """ana: everything graded; bo: m01 only, with the manual cell still ungraded; cy: no submissions.

    Creating a gradebook runs `alembic heads` in a subprocess (seconds), so the first one built is
    copied for the others. empty=True: the same assignments with every student removed.
    """
    course.mkdir(parents=True, exist_ok=True)
    if not _TEMPLATE:
        work = Path(tempfile.mkdtemp(prefix="shifu-gb-"))
        atexit.register(shutil.rmtree, work, True)
        _build(work)
        _TEMPLATE.append(work / "gradebook.db")
    shutil.copyfile(_TEMPLATE[0], course / "gradebook.db")
    url = db_url(course)
    if empty:
        with Gradebook(url, course_id="shifu") as gb:
            for student in [s.id for s in gb.students]:
                gb.remove_student(student)
    return url


def _build(course: Path) -> None:
    url = db_url(course)
    with Gradebook(url, course_id="shifu") as gb:
        for a, cells in CELLS.items():
            gb.add_assignment(a, duedate=DUE[a])
            gb.add_notebook("main", a)
            for name, mx, kind in cells:
                gb.add_grade_cell(name, "main", a, max_score=mx, cell_type=kind)
        # a manually graded task with `grade: true`: nbgrader saves a GradeCell and a TaskCell of one name
        gb.add_task_cell("review__business", "main", "lab1_kpi", max_score=3.0, cell_type="markdown")
        # nbgrader keeps each graded cell's source: a test cell names the scenario it scores against
        gb.add_source_cell("q1_reply__de_escalation", "main", "m01_logistics", cell_type="code", locked=True,
                           source='reply_points(q1_reply, "late-parcel-wrong-station", "亲?", 2.0, criterion="de_escalation")')
        gb.add_student("ana", first_name="芳", last_name="王")
        gb.add_student("bo", first_name="博", last_name="李")
        gb.add_student("cy")
        # ana
        gb.add_submission("m01_logistics", "ana", timestamp="2026-03-01 10:00:00")
        _grade(gb, "m01_logistics", "ana", {"q1_reply__de_escalation": (2.0, None), "q2_letter__communication": (None, 3.0),
                                             "roleplay_1__timeliness": (1.0, None), "q3_extra__no_such_tag": (1.0, None),
                                             "scratch": (0.0, None)})
        gb.add_submission("m02_refunds", "ana", timestamp="2026-04-01 10:00:00")
        _grade(gb, "m02_refunds", "ana", {"q1_policy__policy_accuracy": (2.0, None), "q2_reply__de_escalation": (1.0, None),
                                           "q3_essay__operations": (None, 2.0)})
        gb.add_submission("lab1_kpi", "ana", timestamp="2026-05-01 10:00:00")
        _grade(gb, "lab1_kpi", "ana", {"ex1_kpi__kpi_reporting": (5.0, None), "ex2_staff__forecasting_staffing": (4.0, None)})
        # the mentor graded the task copy; the grade-cell copy still says "needs manual grade"
        from nbgrader.api import Grade, TaskCell

        task_grade = (gb.db.query(Grade).join(TaskCell, Grade.cell_id == TaskCell.id)
                      .filter(Grade.notebook.has(assignment=gb.find_submission("lab1_kpi", "ana"))).one())
        task_grade.manual_score, task_grade.needs_manual_grade = 2.0, False
        gb.db.commit()
        # bo: manual cell q2_letter left for the mentor
        gb.add_submission("m01_logistics", "bo", timestamp="2026-03-02 09:00:00")
        _grade(gb, "m01_logistics", "bo", {"q1_reply__de_escalation": (1.0, None), "q2_letter__communication": (None, "pending"),
                                            "roleplay_1__timeliness": (2.0, None), "q3_extra__no_such_tag": (0.0, None),
                                            "scratch": (1.0, None)})


def _grade(gb: Gradebook, assignment: str, student: str, scores: dict) -> None:
    for cell, (auto, manual) in scores.items():
        g = gb.find_grade(cell, "main", assignment, student)
        g.auto_score = auto
        if manual == "pending":
            g.needs_manual_grade = True
        else:
            g.manual_score = manual
            g.needs_manual_grade = False
    gb.db.commit()


def write_transcript(path: Path, started: str, latencies: list[float], trainee: str = "x", scenario: str = "late-parcel-wrong-station") -> Path:
    """A real transcript: the replies played through the engine (so it replays, as the grader and the
    progress report require), then dated `started` (the tests chart and order by these dates)."""
    from shifu.roleplay.transcript.replay import play_script
    from shifu.roleplay.scenario import load_scenario

    replies = ["亲,您好,我马上帮您查。", "包裹停在哪个站点了?我联系网点今天改派,18点前给您回话,您看可以吗?",
               "已经改派好了,今天下午送到,您看这样可以吗?"]
    play_script(load_scenario(scenario), [(replies[i % len(replies)], lat) for i, lat in enumerate(latencies)], path,
                trainee=trainee)
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    for rec in lines:
        for key in ("started", "ts"):
            if key in rec:
                rec[key] = started
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- calibration: mentors' 导师点评 beside the rubric

CAL_CELLS = [("q1_reply__de_escalation", 2.0, "code"), ("roleplay_1__timeliness", 2.0, "code"),
             ("q2_policy__policy_accuracy", 2.0, "code"), ("review__communication", 5.0, "markdown")]
CAL_ASSIGNMENTS = {"m01_logistics": datetime(2026, 3, 1), "m02_refunds": datetime(2026, 4, 1), "m03_claims": datetime(2026, 5, 1)}


def cal_auto_scores(i: int, a: int) -> dict[str, float]:
    """Trainee i's automatic scores in assignment a: spread over 0–2 so that ranks differ."""
    return {"q1_reply__de_escalation": float((i + a) % 3), "roleplay_1__timeliness": float(min(2, (i * 7 + a) % 5) / 1),
            "q2_policy__policy_accuracy": float((i * 5 + a) % 3)}


def build_calibration_gradebook(course: Path, trainees: int = 12) -> str:
    """Trainees t01… each submit three modules: three autograded cells and one 导师点评 cell (review__communication,
    a markdown grade cell that is also a task, as the course's notebooks have it) left for a mentor."""
    course.mkdir(parents=True, exist_ok=True)
    url = db_url(course)
    with Gradebook(url, course_id="shifu") as gb:
        for a, due in CAL_ASSIGNMENTS.items():
            gb.add_assignment(a, duedate=due)
            gb.add_notebook("main", a)
            for name, mx, kind in CAL_CELLS:
                gb.add_grade_cell(name, "main", a, max_score=mx, cell_type=kind)
            gb.add_task_cell("review__communication", "main", a, max_score=5.0, cell_type="markdown")
        for i in range(1, trainees + 1):
            sid = f"t{i:02d}"
            gb.add_student(sid)
            for ai, a in enumerate(CAL_ASSIGNMENTS):
                gb.add_submission(a, sid, timestamp=f"2026-0{3 + ai}-02 10:00:00")
                scores = {c: (s, None) for c, s in cal_auto_scores(i, ai).items()}
                scores["review__communication"] = (0.0, "pending")
                _grade(gb, a, sid, scores)
    return url
