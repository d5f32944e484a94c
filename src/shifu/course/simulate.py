"""A SYNTHETIC cohort: scripted trainees who answer the release notebooks, for the demo and tests.

Each simulated trainee has a skill profile (course/demo/trainee_profiles.yaml). Replies are put
together from that file's move pools, filled with the scenario's own facts (its hidden facts'
question kinds, its accepted resolutions, its policies), so a strong trainee asks the right
questions and a weak one shifts blame. Role-plays are played through the real buyer engine with
the profile's response times; code answers (quizzes, data labs) are taken from the source
notebook's reference solution, left empty, broken, or made to crash or never end.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
import random
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import nbformat
from pydantic import Field, model_validator

from shifu.content import paths
from shifu.content.errors import ShifuError, display_path
from shifu.roleplay.scenario import Scenario, load_scenario
from shifu.content.yamlio import Strict, load_model
from shifu.course import layout
from shifu.course.answers import magic_form
from shifu.course.notebook import transcript_name
from shifu.roleplay.transcript.replay import play_script

_SOLUTION_BLOCK = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M)
CodeChoice = Annotated[str, Field(pattern="^(solution|wrong|stub|crash|loop)$")]


class Profile(Strict):
    label: str
    reply: list[str] = Field(min_length=1)
    roleplay: list[list[str]] = Field(min_length=1)
    latency_s: tuple[float, float]
    roleplay_rate: float = Field(ge=0, le=1)
    code: dict[CodeChoice, float] = Field(min_length=1)
    broken_reply_rate: float = Field(default=0, ge=0, le=1)
    reached: float = Field(default=1.0, gt=0, le=1, description="share of the course's assignments submitted so far, in course order")
    service_kpi: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="KPI CSV column -> (low, high) of the monthly values this profile draws")


class Member(Strict):
    id: str = Field(pattern=r"^synthetic-[a-z0-9-]+$", description="lower-case slug starting with synthetic-")
    profile: str


class Profiles(Strict):
    cohort: list[Member] = Field(min_length=1)
    profiles: dict[str, Profile] = Field(min_length=1)
    moves: dict[str, list[str]] = Field(min_length=1)
    probes: dict[str, str]
    fallback_probe: str
    fallback_wrong: str  # {wrong} for a scenario whose policies have no wrong_cues
    fallback_forbidden: str  # {forbidden} for a scenario without never_offer
    wrong_value: str
    crash_code: str
    loop_code: str

    @model_validator(mode="after")
    def _references(self) -> "Profiles":
        for m in self.cohort:
            if m.profile not in self.profiles:
                raise ValueError(f"trainee {m.id!r} names unknown profile {m.profile!r}")
        used = {mv for p in self.profiles.values() for mv in p.reply + [x for turn in p.roleplay for x in turn]}
        missing = sorted(used - set(self.moves))
        if missing:
            raise ValueError(f"move {missing[0]!r} is used by a profile but has no entry under moves")
        ids = [m.id for m in self.cohort]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"trainee id {dup[0]!r} is used twice")
        return self


def profiles_path() -> Path:
    return paths.course_dir() / "demo" / "trainee_profiles.yaml"


def load_profiles(path: Path | None = None) -> Profiles:
    return load_model(path or profiles_path(), Profiles, guide="the comments at the top of course/demo/trainee_profiles.yaml")


@lru_cache(maxsize=64)
def _scenario(sid: str) -> Scenario:
    """Scenarios are validated once per run: loading checks the rubric and question kinds too."""
    return load_scenario(sid)


def _seed(*parts: str) -> int:
    return int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:12], 16)


# --- replies --------------------------------------------------------------------------------

@dataclass
class Composer:
    """Builds one trainee's replies for one scenario; asks about the hidden facts in order."""

    scenario: Scenario
    profiles: Profiles
    rng: random.Random
    next_fact: int = 0

    def _probe(self) -> str:
        facts = self.scenario.hidden_facts
        if not facts:
            return self.profiles.probes.get("expectation", "")
        fact = facts[self.next_fact % len(facts)]
        self.next_fact += 1
        if fact.uncovered_by in self.profiles.probes:
            return self.profiles.probes[fact.uncovered_by]
        return self.profiles.fallback_probe.format(cue=(fact.cues or [fact.id])[0])

    def _fill(self, template: str) -> str:
        sc = self.scenario
        policies = sc.context.policies
        fields = {
            "probe": self._probe() if "{probe}" in template else "",
            "solution": "、".join(a.cues[0] for a in sc.accepts[:2]),
            "policy": policies[0].text if policies else sc.goal,
            "wrong": next((c for p in policies for c in p.wrong_cues), self.profiles.fallback_wrong),
            "forbidden": sc.never_offer[0].cues[0] if sc.never_offer else self.profiles.fallback_forbidden,
            "stuffing": " ".join(dict.fromkeys(c for a in sc.accepts for c in a.cues)
                                 ) + " " + " ".join(c for p in policies for c in p.correct_cues),
        }
        return template.format(**fields)

    def say(self, moves: list[str]) -> str:
        return "".join(self._fill(self.rng.choice(self.profiles.moves[m])) for m in moves).strip()


# --- notebooks ------------------------------------------------------------------------------

def strip_solution(source: str) -> str:
    """A source cell's reference answer as a trainee would type it: the delimiters removed."""
    return _SOLUTION_BLOCK.sub(lambda m: m.group(1), source)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    names = list(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def _code_answer(choice: str, release_src: str, source_src: str, meta: dict, profiles: Profiles) -> str:
    solution = strip_solution(source_src)
    if choice == "solution":
        return solution
    if choice == "stub":
        return release_src
    if choice == "crash":
        return profiles.crash_code + "\n" + solution
    if choice == "loop":
        return profiles.loop_code
    variable = meta.get("variable")
    if variable:  # a quiz: a wrong value
        return f"{variable} = {profiles.wrong_value}"
    return _SOLUTION_BLOCK.sub(lambda m: _drop_last_step(m.group(1)), source_src)  # a data lab: half done


def _drop_last_step(block: str) -> str:
    """A half-done attempt: the solution's last line commented out (a missing result, or a function returning None)."""
    lines = block.rstrip("\n").splitlines()
    if not lines:
        return block
    last = lines[-1]
    indent = last[: len(last) - len(last.lstrip())]
    body = lines[:-1] + [f"{indent}pass  # synthetic trainee: unfinished", f"{indent}# {last.lstrip()}"]
    return "\n".join(body) + "\n"


@dataclass
class Submitted:
    student: str
    profile: str
    assignment: str
    replies: int = 0
    roleplays: list[str] = field(default_factory=list)  # outcomes
    code: dict[str, int] = field(default_factory=dict)


def answer_assignment(course: Path, assignment: str, member: Member, profiles: Profiles, dest: Path) -> Submitted:
    """Write one synthetic trainee's submission folder for one assignment (notebooks, transcripts, timestamp)."""
    profile = profiles.profiles[member.profile]
    rng = random.Random(_seed(member.id, assignment))
    release = layout.release_dir(course) / assignment
    if not release.is_dir():
        raise ShifuError(f"no release of {assignment} in {display_path(release)} — fix: run `shifu course build` first")
    shutil.copytree(release, dest, dirs_exist_ok=True)
    out = Submitted(member.id, member.profile, assignment)
    for nb_path in sorted(dest.glob("*.ipynb")):
        source_nb = layout.source_dir(course) / assignment / nb_path.name
        source_cells = {}
        if source_nb.exists():
            for c in nbformat.read(source_nb, as_version=4).cells:
                gid = c.metadata.get("nbgrader", {}).get("grade_id")
                if gid:
                    source_cells[gid] = c
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            shifu = cell.metadata.get("shifu", {})
            kind = shifu.get("kind")
            if kind == "reply":
                sid = shifu["scenario"]
                sc = _scenario(sid)
                reply = Composer(sc, profiles, rng).say(profile.reply)
                broken = rng.random() < profile.broken_reply_rate
                if magic_form(cell.source) is not None:  # a `%%reply` cell: plain text, only an unanswered one scores 0
                    if not broken:
                        cell.source = cell.source.rstrip("\n") + "\n" + reply
                else:
                    hint = cell.source.split("\n", 1)[0]
                    cell.source = f'{hint}\n{shifu["variable"]} = """\n{reply}\n' + ("" if broken else '"""')
                out.replies += 1
            elif kind == "roleplay" and shifu.get("graded"):
                sid = shifu["scenario"]
                if rng.random() >= profile.roleplay_rate:
                    out.roleplays.append("not done")
                    continue
                sc = _scenario(sid)
                composer = Composer(sc, profiles, rng)
                turns = [(composer.say(moves), round(rng.uniform(*profile.latency_s), 1)) for moves in profile.roleplay]
                outcome = play_script(sc, turns, dest / transcript_name(sid), trainee=member.id, seed=_seed(member.id, sid) % 10_000)
                out.roleplays.append(outcome)
            elif meta.get("solution"):
                src_cell = source_cells.get(meta.get("grade_id", ""))
                if src_cell is None:
                    continue
                if cell.cell_type == "markdown":
                    if _pick(rng, profile.code) == "solution":
                        cell.source = strip_solution(src_cell.source)
                    continue
                choice = _pick(rng, profile.code)
                cell.source = _code_answer(choice, cell.source, src_cell.source, {**shifu}, profiles)
                out.code[choice] = out.code.get(choice, 0) + 1
        nbformat.write(nb, nb_path)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    (dest / "timestamp.txt").write_text(stamp, encoding="utf-8")
    return out


def submit_cohort(course: Path, assignments: list[str], profiles: Profiles, members: list[Member] | None = None) -> list[Submitted]:
    """Each synthetic trainee's submissions, as far into the course as the profile has reached, in nbgrader's
    submitted/<student>/<assignment>/ layout (a cohort mid-course: the progress report shows who is behind)."""
    out = []
    for member in members or profiles.cohort:
        reached = profiles.profiles[member.profile].reached
        for a in assignments[: max(1, round(len(assignments) * reached))]:
            dest = course / "submitted" / member.id / a
            if dest.exists():
                shutil.rmtree(dest)
            out.append(answer_assignment(course, a, member, profiles, dest))
    return out


def cohort_kpi(profiles: Profiles, members: list[Member], months: list[str], seed: int = 0) -> list[dict[str, object]]:
    """Synthetic monthly service KPIs for each trainee, drawn from the profile's ranges, for the review."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for member in members:
        ranges = profiles.profiles[member.profile].service_kpi
        for month in months:
            row: dict[str, object] = {"month": month, "agent_id": member.id}
            for column, (low, high) in ranges.items():
                row[column] = round(rng.uniform(low, high), 4)
            rows.append(row)
    return rows


# --- synthetic mentors (导师点评) -------------------------------------------------------------

class SyntheticMentor(Strict):
    id: str = Field(pattern=r"^synthetic-[a-z0-9-]+$", description="lower-case slug starting with synthetic-")
    label: str
    bias: float = Field(ge=-100, le=100, description="points of 100 added to the rubric's percentage")
    noise: float = Field(ge=0, le=50, description="standard deviation of the random spread, points of 100")


class CommentBand(Strict):
    min: float = Field(ge=0, le=100)
    text: str = Field(min_length=1)


class MentorPanel(Strict):
    mentors: list[SyntheticMentor] = Field(min_length=1)
    comments: list[CommentBand] = Field(min_length=1)

    @model_validator(mode="after")
    def _bands(self) -> "MentorPanel":
        if not any(b.min == 0 for b in self.comments):
            raise ValueError("comments: one band needs `min: 0`, so every grade gets a comment")
        return self

    def comment(self, pct: float, mentor: str) -> str:
        band = next(b for b in sorted(self.comments, key=lambda b: -b.min) if pct >= b.min)
        return band.text.replace("{mentor}", mentor)


def mentors_path() -> Path:
    return paths.course_dir() / "demo" / "mentors.yaml"


def load_mentors(path: Path | None = None) -> MentorPanel:
    return load_model(path or mentors_path(), MentorPanel, guide="the comments at the top of course/demo/mentors.yaml")


def deal_mentors(panel: MentorPanel, trainees: list[str]) -> dict[str, str]:
    """trainee → mentor id, dealt in turn in the order given."""
    return {t: panel.mentors[i % len(panel.mentors)].id for i, t in enumerate(trainees)}


def grade_as_mentors(db_url: str, panel: MentorPanel, mentor_cells: str, roster: dict[str, str], seed: int = 0) -> int:
    """Synthetic mentors grade every 导师点评 cell (grade id matching mentor_cells) of their trainees.

    The mentor reads the same work the rubric scored: their percentage is the rubric's percentage
    for that ability in that submission (all the submission's automatic cells when none has that
    ability), plus the mentor's bias and a seeded random spread, clipped to 0–100 and rounded to
    half points. Writes manual_score and a signed manual_comment through nbgrader's API; returns
    the number of cells graded. Trainees not in roster are left for a real mentor.
    """
    from nbgrader.api import BaseCell, Comment, Grade

    from shifu.progress.config import load_taxonomy
    from shifu.progress.evidence import _map_cells
    from shifu.grading.gradebook import open_gradebook
    from shifu.grading.gradebook_tables import read_gradebook

    rx = re.compile(mentor_cells)
    by_id = {m.id: m for m in panel.mentors}
    graded = 0
    with open_gradebook(db_url) as gb:
        data = read_gradebook(gb)
        g = data.grades
        if g.empty:
            return 0
        mapping = _map_cells(g, data.sources, load_taxonomy(), [])
        g = g.merge(mapping[["assignment", "notebook", "cell", "competency"]], on=["assignment", "notebook", "cell"], how="left")
        is_mentor = g["cell"].str.contains(rx)
        auto = g[~is_mentor & g["auto_score"].notna() & (g["max"] > 0)]
        for r in g[is_mentor & (g["max"] > 0)].itertuples(index=False):
            mentor = by_id.get(roster.get(r.trainee, ""))
            if mentor is None:
                continue
            sub = auto[(auto["trainee"] == r.trainee) & (auto["assignment"] == r.assignment)]
            same = sub[sub["competency"] == r.competency]
            basis = same if len(same) else sub
            rubric_pct = 100 * basis["auto_score"].clip(lower=0).sum() / basis["max"].sum() if len(basis) else 50.0
            rng = random.Random(_seed(str(seed), mentor.id, r.trainee, r.assignment, r.cell))
            pct = min(100.0, max(0.0, rubric_pct + mentor.bias + rng.gauss(0, mentor.noise) if mentor.noise else rubric_pct + mentor.bias))
            points = round(pct / 100 * r.max * 2) / 2
            sn = gb.find_submission_notebook(r.notebook, r.assignment, r.trainee)
            for grade in gb.db.query(Grade).join(BaseCell, Grade.cell_id == BaseCell.id).filter(
                    Grade.notebook_id == sn.id, BaseCell.name == r.cell):
                grade.manual_score, grade.needs_manual_grade = points, False
            for comment in gb.db.query(Comment).join(BaseCell, Comment.cell_id == BaseCell.id).filter(
                    Comment.notebook_id == sn.id, BaseCell.name == r.cell):
                comment.manual_comment = panel.comment(100 * points / r.max, mentor.id)
            graded += 1
        gb.db.commit()
    return graded
