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
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from shifu.content import paths
from shifu.roleplay.transcript.course import TranscriptFile, read_transcripts
from shifu.progress.config import Taxonomy, load_taxonomy
from shifu.grading.gradebook import check_schema, gradebook_url
from shifu.grading.gradebook_tables import COMMENT_COLUMNS, GradebookData, load_gradebook

EVIDENCE_COLUMNS = ["trainee", "competency", "skill", "criterion", "score", "max", "date", "source", "assignment", "item"]
UNMAPPED_COLUMNS = ["assignment", "item", "tag", "reason", "grades"]
BACKLOG_COLUMNS = ["trainee", "assignment", "notebook", "cell", "max"]
CELL_COLUMNS = ["trainee", "assignment", "notebook", "cell", "competency", "skill", "criterion", "max", "auto_score",
                "manual_score", "needs_manual_grade", "timestamp"]
_TAG = re.compile(r"__([A-Za-z0-9_]+?)$")
_ROLEPLAY = re.compile(r"^roleplay_\d+__")
_QUOTED = re.compile(r"""["']([A-Za-z0-9][A-Za-z0-9_-]*)["']""")

# A transcript scorer returns, per rubric criterion: (criterion id, competency or None, points, max).
CriterionRow = tuple[str, str | None, float, float]
Scorer = Callable[[Path], list[CriterionRow]]


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
        """Every trainee id: students, evidence and transcripts (sorted; computed once)."""
        cached = self.__dict__.get("_trainees")
        if cached is None or cached[0] is not self.table:
            ids = set(self.students["trainee"]) | set(pd.unique(self.table["trainee"].astype(object))) | set(self.latency["trainee"])
            cached = (self.table, sorted(str(t) for t in ids if t == t))
            self.__dict__["_trainees"] = cached
        return cached[1]

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
    return _map_keys(_cell_keys(grades)[0], sources, tax, notes)


def _map_keys(keys: pd.DataFrame, sources: pd.DataFrame, tax: Taxonomy, notes: list[str]) -> pd.DataFrame:
    """_map_cells for the distinct (assignment, notebook, cell) rows `keys`, in their order."""
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


def _cell_keys(g: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct (assignment, notebook, cell) of a grades table, and for each row the position of its key.

    Computed on integer codes: a cohort has a few hundred cells but a million grades."""
    on = ["assignment", "notebook", "cell"]
    if g.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in on}), np.zeros(0, dtype=np.int64)
    cats = [pd.Categorical(g[c]) for c in on]
    code = np.zeros(len(g), dtype=np.int64)
    for c in cats:
        code = code * (len(c.categories) + 1) + c.codes.astype(np.int64)
    uniq, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    keys = pd.DataFrame({c: np.asarray(cat.categories, dtype=object)[cat.codes[first]] for c, cat in zip(on, cats)})
    return keys, inverse.reshape(-1)


def _categorical(values: np.ndarray | list, categories: list | None = None) -> pd.Categorical:
    return pd.Categorical(values, categories=categories)


def _grade_evidence(gbd: GradebookData, tax: Taxonomy, notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    g = gbd.grades
    backlog = g.loc[g["needs_manual_grade"].astype(bool), ["trainee", "assignment", "notebook", "cell", "max"]].reset_index(drop=True)
    backlog = backlog.astype({c: object for c in ("trainee", "assignment", "notebook", "cell")})
    keys, key_of = _cell_keys(g)
    mapping = _map_keys(keys, gbd.sources, tax, notes) if len(g) else \
        pd.DataFrame(columns=["assignment", "notebook", "cell", "competency", "skill", "criterion", "reason"])
    # mapping rows are in key order (both from _cell_keys): one lookup per grade by position
    ok_key = (mapping["reason"] == "").to_numpy() if len(mapping) else np.zeros(0, dtype=bool)
    row_ok = ok_key[key_of] if len(g) else np.zeros(0, dtype=bool)
    bad_counts = np.bincount(key_of[~row_ok], minlength=len(mapping)) if len(g) else np.zeros(0, dtype=int)
    bad = mapping.assign(grades=bad_counts)[~ok_key] if len(mapping) else mapping.assign(grades=0)
    unmapped = (
        bad.assign(item=bad["notebook"] + "/" + bad["cell"], tag=bad["criterion"])
        .groupby(["assignment", "item", "reason"], dropna=False, as_index=False)
        .agg(tag=("tag", "first"), grades=("grades", "sum"))
    )[["assignment", "item", "tag", "reason", "grades"]] if len(bad) else pd.DataFrame(columns=UNMAPPED_COLUMNS)
    take = row_ok & ~g["needs_manual_grade"].astype(bool).to_numpy() & (g["max"].to_numpy() > 0) if len(g) else row_ok
    ok = g[take]
    k = key_of[take]

    def per_key(column: pd.Series) -> pd.Categorical:
        cat = as_category(column)
        return pd.Categorical.from_codes(cat.codes[k], categories=cat.categories)

    item = mapping["notebook"].astype(str) + "/" + mapping["cell"].astype(str) if len(mapping) else mapping["cell"]
    stamp = ok["timestamp"]
    table = pd.DataFrame({
        "trainee": as_category(ok["trainee"]),
        "competency": per_key(mapping["competency"]),
        "skill": per_key(mapping["skill"]),
        "criterion": per_key(mapping["criterion"]),
        "score": ok["score"].clip(lower=0).to_numpy(dtype=float),
        "max": ok["max"].to_numpy(dtype=float),
        "date": stamp.where(stamp.notna(), ok["duedate"]).to_numpy(),
        "source": as_category(np.where(ok["manual_score"].notna(), "manual", "autograded")),
        "assignment": per_key(mapping["assignment"]),
        "item": per_key(item),
    })
    cells = g[row_ok].reset_index(drop=True)
    kc = key_of[row_ok]
    for col in ("competency", "skill", "criterion"):
        cells[col] = mapping[col].to_numpy(dtype=object)[kc]
    cells = cells.reindex(columns=CELL_COLUMNS).reset_index(drop=True)
    return table.reset_index(drop=True), unmapped, backlog, cells


def rubric_scorer() -> Scorer:
    """shifu.reading.rubric.score_transcript as a Scorer, on the conversation as the engine replays it.

    A transcript is evidence to replay, not a record to believe: a file the grader would reject (edited
    buyer lines, no buyer turns, forged outcome) adds no evidence at all; an accepted one is scored as
    replayed (mood, facts and outcome recomputed from the trainee's replies), with its recorded times.
    """
    from shifu.content.errors import ShifuError
    from shifu.reading.rubric import score_transcript
    from shifu.roleplay.transcript.replay import check_transcript

    def score(path: Path) -> list[CriterionRow]:
        try:
            checked = check_transcript(path)  # against the scenario it names
        except ShifuError:  # that scenario cannot be loaded
            return []
        if not checked.accepted or checked.timed is None or checked.untimed is None:
            return []
        # reply times count only when the hub service measured them; the trainee's own kernel can write any
        conversation = checked.timed if checked.times_trusted else checked.untimed
        result = score_transcript(conversation, conversation.scenario)
        return [(c.id, c.competency, float(c.points), float(c.max))
                for c in result.criteria if c.applicable]  # not applicable: not evidence

    return score


def latency_table(files: Iterable[TranscriptFile]) -> pd.DataFrame:
    """One row per transcript: its date and the trainee's mean reply latency."""
    rows = [
        {"trainee": f.trainee, "assignment": f.assignment, "file": str(f.path), "scenario": f.scenario,
         "date": f.started, "turns": len(f.latencies),
         "mean_latency_s": sum(v for _, v in f.latencies) / len(f.latencies)}
        for f in files if f.latencies
    ]
    out = pd.DataFrame(rows, columns=["trainee", "assignment", "file", "scenario", "date", "turns", "mean_latency_s"])
    out["date"] = pd.to_datetime(out["date"])
    return out


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
        notes.append(f"{len(files)} transcript(s) found but not scored: the rubric module (shifu.reading.rubric) is not available; "
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


_NOT_TEXT = ("score", "max", "date")


def as_category(values: pd.Series | np.ndarray | list) -> pd.Categorical:
    """Text as a pandas categorical with plain object categories (so any two can be joined)."""
    c = values.array if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype) \
        else pd.Categorical(np.asarray(values, dtype=object))
    if c.categories.dtype != object:
        c = pd.Categorical.from_codes(c.codes, categories=pd.Index(np.asarray(c.categories, dtype=object), dtype=object))
    return c


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Rows of several tables; text columns stay categorical (the union of the categories), so a
    million-row evidence table holds codes, not strings."""
    from pandas.api.types import union_categoricals

    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: (pd.Series(dtype=float) if c in _NOT_TEXT else pd.Series(as_category([]))) for c in columns})
    return pd.DataFrame({
        c: (pd.concat([f[c] for f in frames], ignore_index=True) if c in _NOT_TEXT
            else pd.Series(union_categoricals([as_category(f[c]) for f in frames], ignore_order=True)))
        for c in columns})


def build_evidence(gbd: GradebookData, transcripts: list[TranscriptFile], tax: Taxonomy,
                   scorer: Scorer | None = None) -> Evidence:
    """Pure: gradebook tables + transcripts + taxonomy → Evidence.

    The evidence table's text columns (trainee, competency, skill, criterion, source, assignment,
    item) are pandas categoricals: compare them with strings as usual."""
    notes = list(tax.notes)
    grade_table, unmapped, backlog, cells = _grade_evidence(gbd, tax, notes)
    if len(grade_table):
        items = pd.Series(grade_table["item"].cat.categories.astype(object))
        is_rp = items.str.split("/").str[-1].str.match(_ROLEPLAY).fillna(False).to_numpy(dtype=bool)
        rp = grade_table[is_rp[grade_table["item"].cat.codes.to_numpy()]]
    else:
        rp = grade_table
    graded_roleplay = set(zip(rp["trainee"].astype(object), rp["assignment"].astype(object), rp["criterion"].astype(object)))
    t_table, t_unmapped = _transcript_evidence(transcripts, scorer, tax, graded_roleplay, notes)
    table = _concat([grade_table, t_table], EVIDENCE_COLUMNS)
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

    scorer: "rubric" scores transcripts with shifu.reading.rubric when it is installed; None skips scoring.
    upgrade: migrate a gradebook an older nbgrader made (nbgrader db upgrade) instead of stopping.
    """
    course = Path(course_dir) if course_dir else paths.course_dir()
    grader = Path(grader_dir) if grader_dir else paths.grader_dir()
    tax = load_taxonomy(grader)
    url = gradebook_url(course, db_url)
    upgraded = check_schema(url, upgrade)
    gbd = load_gradebook(url, checked=True)
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
