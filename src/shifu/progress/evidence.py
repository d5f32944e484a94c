"""One tidy evidence table from a gradebook and role-play transcripts.

Each row is one piece of evidence about one trainee and one competency: a graded nbgrader cell
(source autograded or manual) or one rubric criterion of a scored transcript (source transcript).
Cells map to competencies through the grade-id convention `…__<tag>` (tag = rubric criterion id,
competency id or analysis sub-skill id). Anything that cannot be mapped is listed, never dropped.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import paths
from .config import Taxonomy, load_taxonomy
from .gradebook import COMMENT_COLUMNS, GradebookData, check_schema, default_db_url, load_gradebook
from .transcripts import Scorer, TranscriptFile, latency_table, read_transcripts, rubric_scorer

EVIDENCE_COLUMNS = ["trainee", "competency", "skill", "criterion", "score", "max", "date", "source", "assignment", "item"]
UNMAPPED_COLUMNS = ["assignment", "item", "tag", "reason", "grades"]
BACKLOG_COLUMNS = ["trainee", "assignment", "notebook", "cell", "max"]
CELL_COLUMNS = ["trainee", "assignment", "notebook", "cell", "competency", "skill", "criterion", "max", "auto_score",
                "manual_score", "needs_manual_grade", "timestamp"]
_TAG = re.compile(r"__([A-Za-z0-9_]+?)$")
_ROLEPLAY = re.compile(r"^roleplay_\d+__")
_QUOTED = re.compile(r"""["']([A-Za-z0-9][A-Za-z0-9_-]*)["']""")


@dataclass
class Evidence:
    """The evidence table and what could not go into it."""

    table: pd.DataFrame                 # EVIDENCE_COLUMNS
    unmapped: pd.DataFrame              # UNMAPPED_COLUMNS: cells/criteria with no known tag
    backlog: pd.DataFrame               # BACKLOG_COLUMNS: cells waiting for a mentor (needs_manual_grade)
    latency: pd.DataFrame               # per transcript: trainee, date, mean_latency_s …
    students: pd.DataFrame              # trainee, name
    assignments: pd.DataFrame           # assignment, duedate, order (course order)
    submissions: pd.DataFrame           # trainee, assignment, timestamp
    taxonomy: Taxonomy
    notes: list[str] = field(default_factory=list)
    source_url: str = ""                # the gradebook it was read from
    # CELL_COLUMNS: every graded cell with its meaning and both scores (calibration compares them)
    cells: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CELL_COLUMNS))
    comments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COMMENT_COLUMNS))
    course_dir: Path | None = None      # where transcripts were found (for links)

    @property
    def trainees(self) -> list[str]:
        ids = set(self.students["trainee"]) | set(self.table["trainee"]) | set(self.latency["trainee"])
        return sorted(ids)

    def for_trainee(self, trainee: str) -> pd.DataFrame:
        return self.table[self.table["trainee"] == trainee]


def tag_of(cell: str) -> str | None:
    """`q1_reply__de_escalation` → `de_escalation`; None without the `__<tag>` suffix."""
    m = _TAG.search(cell)
    return m.group(1) if m else None


def _scenario_in(source: str, tax: Taxonomy) -> str | None:
    """The first scenario id quoted in a test cell's source, e.g. reply_points(q1, "late-parcel-wrong-station", …)."""
    for m in _QUOTED.finditer(source or ""):
        if m.group(1) in tax.scenario_rubrics:
            return m.group(1)
    return None


def _map_cells(grades: pd.DataFrame, sources: pd.DataFrame, tax: Taxonomy, notes: list[str]) -> pd.DataFrame:
    """competency, skill, tag and unmapped reason for each distinct graded cell of each notebook.

    A criterion tag means what the rubric of the scenario its test cell scores against says; the
    cell's source (kept in the gradebook) names that scenario.
    """
    keys = grades[["assignment", "notebook", "cell"]].drop_duplicates()
    src = dict(zip(zip(sources["assignment"], sources["notebook"], sources["cell"]), sources["source"]))
    rows, guessed = [], Counter()
    for a, n, c in keys.itertuples(index=False):
        tag = tag_of(c)
        rubric = None
        if tag in tax.criteria:
            scenario = _scenario_in(src.get((a, n, c), ""), tax)
            rubric = tax.scenario_rubrics.get(scenario) if scenario else None
            if rubric is None and tag in tax.ambiguous:
                guessed[tag] += 1
        meaning = tax.resolve(tag, rubric) if tag else None
        if meaning is None:
            reason = "no `__<tag>` suffix" if tag is None else f"unknown tag `{tag}`"
            rows.append((a, n, c, None, None, tag, reason))
        else:
            rows.append((a, n, c, meaning.competency, meaning.skill, tag, ""))
    for tag, count in sorted(guessed.items()):
        notes.append(f"{count} graded cell(s) tagged `{tag}` name no scenario, and the rubrics map `{tag}` to different "
                     f"competencies: counted as `{tax.criteria[tag]}` (the first rubric's)")
    return pd.DataFrame(rows, columns=["assignment", "notebook", "cell", "competency", "skill", "criterion", "reason"])


def _grade_evidence(gbd: GradebookData, tax: Taxonomy, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    g = gbd.grades
    backlog = g.loc[g["needs_manual_grade"], ["trainee", "assignment", "notebook", "cell", "max"]].reset_index(drop=True)
    graded = g[~g["needs_manual_grade"] & (g["max"] > 0)]
    mapping = _map_cells(g, gbd.sources, tax, notes)
    on = ["assignment", "notebook", "cell"]
    graded = graded.merge(mapping, on=on, how="left")
    bad = g.merge(mapping[mapping["reason"] != ""], on=on, how="inner")
    unmapped = (
        bad.assign(item=bad["notebook"] + "/" + bad["cell"], tag=bad["criterion"])
        .groupby(["assignment", "item", "reason"], dropna=False, as_index=False)
        .agg(tag=("tag", "first"), grades=("cell", "size"))
    )[["assignment", "item", "tag", "reason", "grades"]] if len(bad) else pd.DataFrame(columns=UNMAPPED_COLUMNS)
    ok = graded[graded["reason"] == ""]
    table = pd.DataFrame({
        "trainee": ok["trainee"],
        "competency": ok["competency"],
        "skill": ok["skill"],
        "criterion": ok["criterion"],
        "score": ok["score"].clip(lower=0),
        "max": ok["max"],
        "date": ok["timestamp"].fillna(ok["duedate"]),
        "source": ok["manual_score"].notna().map({True: "manual", False: "autograded"}),
        "assignment": ok["assignment"],
        "item": ok["notebook"] + "/" + ok["cell"],
    })
    cells = g.merge(mapping[mapping["reason"] == ""], on=on, how="inner")
    cells = cells.reindex(columns=CELL_COLUMNS).reset_index(drop=True)
    return table.reset_index(drop=True), unmapped, backlog, cells


def _transcript_evidence(files: list[TranscriptFile], scorer: Scorer | None, tax: Taxonomy,
                         graded_roleplay: set[tuple[str, str, str]], notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, unmapped, duplicates, failed = [], [], 0, []
    for f in files:
        if f.bad_lines:
            notes.append(f"{f.path}: {f.bad_lines} line(s) are not JSON and were skipped")
        if f.error:
            notes.append(f"{f.path}: unreadable, left out: {f.error}")
            continue
        if scorer is None:
            continue
        try:
            criteria = scorer(f.path)
        except Exception as exc:  # a broken transcript must not stop a cohort report
            failed.append(f"{f.path}: {type(exc).__name__}: {exc}")
            continue
        for cid, comp, points, mx in criteria:
            if (f.trainee, f.assignment, cid) in graded_roleplay:
                duplicates += 1
                continue
            meaning = (tax.resolve(comp) if comp else None) or tax.resolve(cid, tax.scenario_rubrics.get(f.scenario))
            if meaning is None:
                unmapped.append((f.assignment, str(f.path), cid, f"unknown criterion `{cid}`", 1))
                continue
            if mx <= 0:
                continue
            rows.append((f.trainee, meaning.competency, meaning.skill, cid, max(0.0, points), mx, f.started,
                         "transcript", f.assignment, f.path.name))
    if files and scorer is None:
        notes.append(f"{len(files)} transcript(s) found but not scored: the rubric module (shifu.rubric) is not available; "
                     "their response times are still charted")
    if duplicates:
        notes.append(f"{duplicates} transcript criterion score(s) skipped: the gradebook already grades them in roleplay_* cells")
    notes.extend(f"could not score {m}" for m in failed)
    table = pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)
    table["date"] = pd.to_datetime(table["date"])
    return table, pd.DataFrame(unmapped, columns=UNMAPPED_COLUMNS)


def _course_order(gbd: GradebookData, table: pd.DataFrame) -> pd.DataFrame:
    """Assignments in the order trainees meet them: by due date, else typical submission date, else name."""
    a = gbd.assignments.copy()
    typical = gbd.submissions.groupby("assignment")["timestamp"].median()
    a["when"] = a["duedate"].fillna(pd.to_datetime(a["assignment"].map(typical.to_dict()))) if len(typical) else a["duedate"]
    extra = sorted(set(table["assignment"]) - set(a["assignment"]))
    if extra:
        a = pd.concat([a, pd.DataFrame({"assignment": extra})], ignore_index=True)
    a = a.sort_values(["when", "assignment"], na_position="last").reset_index(drop=True)
    a["order"] = range(len(a))
    return a[["assignment", "duedate", "order"]]


def build_evidence(gbd: GradebookData, transcripts: list[TranscriptFile], tax: Taxonomy,
                   scorer: Scorer | None = None) -> Evidence:
    """Pure: gradebook tables + transcripts + taxonomy → Evidence."""
    notes = list(tax.notes)
    grade_table, unmapped, backlog, cells = _grade_evidence(gbd, tax, notes)
    rp = grade_table[grade_table["item"].str.split("/").str[-1].str.match(_ROLEPLAY)] if len(grade_table) else grade_table
    graded_roleplay = set(zip(rp["trainee"], rp["assignment"], rp["criterion"]))
    t_table, t_unmapped = _transcript_evidence(transcripts, scorer, tax, graded_roleplay, notes)
    parts = [t for t in (grade_table, t_table) if len(t)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=EVIDENCE_COLUMNS)
    table = table.astype({"score": float, "max": float})
    table["date"] = pd.to_datetime(table["date"])
    unmapped_all = pd.concat([u for u in (unmapped, t_unmapped) if len(u)], ignore_index=True) if len(unmapped) or len(t_unmapped) \
        else pd.DataFrame(columns=UNMAPPED_COLUMNS)
    return Evidence(
        table=table, unmapped=unmapped_all, backlog=backlog, latency=latency_table(transcripts),
        students=gbd.students, assignments=_course_order(gbd, table), submissions=gbd.submissions,
        taxonomy=tax, notes=notes, source_url=gbd.url, cells=cells, comments=gbd.comments,
    )


def collect_evidence(course_dir: Path | str | None = None, db_url: str | None = None, grader_dir: Path | str | None = None,
                     scorer: Scorer | None | str = "rubric", upgrade: bool = False) -> Evidence:
    """Read a course's gradebook (nbgrader API) and transcripts into Evidence.

    scorer: "rubric" scores transcripts with shifu.rubric when it is installed; None skips scoring.
    upgrade: migrate a gradebook an older nbgrader made (nbgrader db upgrade) instead of stopping.
    """
    course = Path(course_dir) if course_dir else paths.course_dir()
    grader = Path(grader_dir) if grader_dir else paths.grader_dir()
    tax = load_taxonomy(grader)
    url = db_url or default_db_url(course)
    upgraded = check_schema(url, upgrade)
    gbd = load_gradebook(url)
    if scorer == "rubric":
        scorer = rubric_scorer()
    ev = build_evidence(gbd, read_transcripts(course), tax, scorer)  # type: ignore[arg-type]
    ev.notes[:0] = upgraded
    ev.course_dir = course
    return ev


def missing_submissions(ev: Evidence, as_of: pd.Timestamp) -> pd.DataFrame:
    """trainee × assignment pairs with no submission, for assignments already due (or submitted by someone)."""
    a = ev.assignments
    submitted_by_someone = set(ev.submissions["assignment"])
    due = a[(a["duedate"].notna() & (a["duedate"] <= as_of)) | (a["duedate"].isna() & a["assignment"].isin(submitted_by_someone))]
    if ev.students.empty or due.empty:
        return pd.DataFrame(columns=["trainee", "assignment"])
    pairs = ev.students[["trainee"]].merge(due[["assignment"]], how="cross")
    have = ev.submissions[["trainee", "assignment"]].drop_duplicates().assign(_have=True)
    out = pairs.merge(have, on=["trainee", "assignment"], how="left")
    return out[out["_have"].isna()][["trainee", "assignment"]].reset_index(drop=True)
