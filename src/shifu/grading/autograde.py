"""nbgrader's autograde, one submission at a time, with the execution step lifted out.

`nbgrader autograde` runs, for each submission: init_destination, the pre-convert hook,
init_assignment (student, submission and timestamp rows; files copied from source; missing
notebooks scored 0), then per notebook the sanitize preprocessors (ClearOutput, DeduplicateIds,
OverwriteKernelspec, OverwriteCells, CheckCellMetadata) and the autograde preprocessors (Execute,
IgnorePattern, ClearMetadata, LimitOutput, SaveAutoGrades, AssignLatePenalties,
CheckCellMetadata), then permissions and the post-convert hook.

This module calls those same methods and preprocessors on nbgrader's own Autograde converter, in
the same order, with the configured preprocessor lists. Only Execute is taken out and handed to
the caller, who runs many notebooks at once; everything that touches the gradebook stays here and
runs from one thread, one submission at a time.
"""
from __future__ import annotations

import contextlib
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import sqlalchemy
from nbconvert.exporters import Exporter, NotebookExporter
from nbconvert.writers import FilesWriter
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.converters import Autograde, NbGraderException
from nbgrader.converters.base import BaseConverter
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError
from nbgrader.preprocessors import Execute

from shifu.content import clock
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.grading.gradebook import SETTING, redact
from shifu.grading.nbgrader_course import NbgraderCourse
from shifu.grading.copies import Copies, symlinks_in
from shifu.grading.judge import Judge, JudgedCells
from shifu.grading.rescore import CellSpec, LabCells, rescore, specs_from_source


@dataclass
class NotebookJob:
    """One notebook of a submission, sanitized and waiting to be executed."""

    notebook_id: str
    submitted: Path
    autograded: Path
    nb: NotebookNode | None = None
    resources: dict = field(default_factory=dict)


@dataclass
class Submission:
    student: str
    assignment: str
    folder: Path                      # submitted/<student>/<assignment>
    notebooks: list[Path]             # submitted notebook files, sorted like nbgrader sorts them
    jobs: list[NotebookJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the mentor: rejected transcripts, possible copies


class SubmissionFailed(Exception):
    """nbgrader could not grade this submission; the autograded folder was removed, as nbgrader does."""


class AutogradePipeline:
    """nbgrader's Autograde converter, driven step by step."""

    def __init__(self, course: NbgraderCourse, force: bool = False):
        self.course = course
        conv = Autograde(coursedir=course.coursedir, parent=course.app)
        if force:
            conv.force = True
        # what BaseConverter.start() sets up before converting
        conv.writer = FilesWriter(parent=conv, config=conv.config)
        conv.exporter = conv.exporter_class(parent=conv, config=conv.config)
        self.conv = conv
        steps = list(conv.autograde_preprocessors)
        at = next((i for i, pp in enumerate(steps) if isinstance(pp, type) and issubclass(pp, Execute)), None)
        if at is None:
            raise ShifuError("Autograde.autograde_preprocessors has no Execute step — fix: put nbgrader's Execute "
                             "back in the course's nbgrader_config.py")
        self.execute_class: type = steps[at]
        self.before = Exporter(parent=conv, config=conv.config)
        for pp in steps[:at]:
            self.before.register_preprocessor(pp)
        self.after = NotebookExporter(parent=conv, config=conv.config)
        for pp in steps[at + 1:]:
            self.after.register_preprocessor(pp)
        self._specs: dict[tuple[str, str], tuple[dict[str, CellSpec], NotebookNode | None]] = {}
        self._labs: dict[tuple[str, str], LabCells | None] = {}  # lab checks scored in the grader (labscore)
        self._judged: dict[tuple[str, str], JudgedCells] = {}    # other test cells, evaluated in the grader (judge)
        self._copies: dict[str, Copies] = {}

    # -- finding submissions -------------------------------------------------------------------

    def submissions(self, assignment: str) -> list[Submission]:
        """Every submitted/<student>/<assignment> folder with notebooks, in nbgrader's order."""
        cd = self.course.coursedir
        cd.assignment_id = assignment
        cd.student_id = "*"
        try:
            self.conv.init_notebooks()
        except NbGraderException:
            return []  # nothing submitted for this assignment
        found = []
        pattern = self.conv._format_source("(?P<assignment_id>.*)", "(?P<student_id>.*)", escape=True)
        for folder in sorted(self.conv.assignments):
            m = re.match(pattern, folder)
            if m is None:
                continue
            found.append(Submission(student=m.group("student_id"), assignment=m.group("assignment_id"),
                                    folder=Path(folder), notebooks=[Path(p) for p in sorted(self.conv.assignments[folder])]))
        return found

    # -- the steps --------------------------------------------------------------------------------

    def should_grade(self, sub: Submission) -> bool:
        """nbgrader's init_destination: False when it was autograded before and nothing newer came in."""
        self._select(sub)
        links = symlinks_in(Path(sub.folder))
        if links:
            names = ", ".join(str(p.relative_to(sub.folder)) for p in links[:5])
            raise SubmissionFailed(f"the submission holds links or special files ({names}); nbgrader would copy what "
                                   "they point to — fix: hand in plain files only (copy the file, not a link to it)")
        # +0800 / CST are rewritten to a form nbgrader reads as the same instant; unreadable ones get reason and fix
        if (why := clock.timestamp_problem(Path(sub.folder))):
            raise SubmissionFailed(why)
        try:
            return self.conv.init_destination(sub.assignment, sub.student)
        except (SystemExit, AttributeError):  # CourseDirectory.fail (nbgrader 0.9.6 calls a method that is missing)
            raise SubmissionFailed(f"timestamp.txt in {sub.folder} is not a date nbgrader can read — fix: "
                                   "write it as `2026-11-20 10:00:00.000000 UTC` or delete it") from None

    def prepare(self, sub: Submission) -> None:
        """Gradebook rows, copied files and sanitized notebooks; leaves sub.jobs ready to execute."""
        conv = self.conv
        for path in sub.notebooks:  # a broken source notebook is the course's problem: found before anything is graded
            self.scoring(sub.assignment, path.stem)
        sub.notes += self.copies(sub.assignment).notes(sub.student)
        self._select(sub)
        try:
            conv.run_pre_convert_hook()
            conv.init_assignment(sub.assignment, sub.student)
            sub.jobs = []
            for filename in list(conv.notebooks):
                conv._sanitizing = True
                conv._init_preprocessors()
                BaseConverter.convert_single_notebook(conv, filename)
                notebook_id = Path(filename).stem
                autograded = Path(conv._format_dest(sub.assignment, sub.student)) / Path(filename).name
                job = NotebookJob(notebook_id=notebook_id, submitted=Path(filename), autograded=autograded)
                conv._sanitizing = False
                job.resources = conv.init_single_notebook_resources(str(autograded))
                with utils.setenv(NBGRADER_EXECUTION="autograde"):
                    job.nb, job.resources = self.before.from_filename(str(autograded), resources=job.resources)
                sub.jobs.append(job)
        except BaseException as exc:
            self.fail(sub)
            raise self._failure(exc) from exc
        finally:
            conv._sanitizing = True

    def executor(self) -> Any:
        """A fresh Execute preprocessor, configured like the one nbgrader would use."""
        return self.execute_class(parent=self.conv.exporter)

    def finish_notebook(self, sub: Submission, job: NotebookJob, executed: NotebookNode) -> None:
        """The grader's own points in Shifu's graded cells, then the steps after Execute (SaveAutoGrades,
        AssignLatePenalties, ...) and the autograded file."""
        try:
            specs, release = self.scoring(sub.assignment, job.notebook_id)
            labs = self._labs.get((sub.assignment, job.notebook_id))
            sub.notes += [f"{job.notebook_id}: {line}" for line in rescore(executed, specs, sub.folder, release, labs)]
            with utils.setenv(NBGRADER_EXECUTION="autograde"):
                output, resources = self.after.from_notebook_node(executed, resources=job.resources)
            self.conv.write_single_notebook(output, resources)
        except BaseException as exc:
            self.fail(sub)
            raise self._failure(exc) from exc

    def finish(self, sub: Submission) -> None:
        """Permissions and the post-convert hook, as nbgrader ends a submission."""
        self._select(sub)
        try:
            self.conv.set_permissions(sub.assignment, sub.student)
            self.conv.run_post_convert_hook()
        except BaseException as exc:
            self.fail(sub)
            raise self._failure(exc) from exc

    def fail(self, sub: Submission) -> None:
        """What nbgrader does to a submission it could not grade: remove its autograded folder."""
        dest = os.path.normpath(self.conv._format_dest(sub.assignment, sub.student))
        if os.path.exists(dest):
            self.course.log.warning("Removing failed assignment: %s", dest)
            utils.rmtree(dest)

    # -- what the grader scores itself ----------------------------------------------------------

    def scoring(self, assignment: str, notebook_id: str) -> tuple[dict[str, CellSpec], NotebookNode | None]:
        """The graded cells Shifu scores (read from the SOURCE notebook) and the release notebook, cached.

        Raises ShifuError when the source notebook is unreadable: every submission would be wrong. A notebook
        the source does not have scores nothing here (nbgrader reports it).
        """
        key = (assignment, notebook_id)
        if key not in self._specs:
            cd = self.course.coursedir
            source = Path(cd.format_path(cd.source_directory, ".", assignment)) / f"{notebook_id}.ipynb"
            release = Path(cd.format_path(cd.release_directory, ".", assignment)) / f"{notebook_id}.ipynb"
            if not source.exists():  # a notebook the course does not have: nbgrader reports it, nothing to score
                self._specs[key] = ({}, None)
                return self._specs[key]
            try:
                src = nbformat.read(source, as_version=4)
            except (OSError, ValueError) as exc:
                raise ShifuError([Problem(display_path(source), "(file)", f"the source notebook cannot be read: {exc}",
                                          "the grader scores replies and transcripts from the source notebook: "
                                          "restore it (course/source/ASSIGNMENT/NOTEBOOK.ipynb)")]) from None
            try:
                rel = nbformat.read(release, as_version=4)
            except (OSError, ValueError):
                rel = None  # only used to recognise an untouched placeholder reply
            specs = specs_from_source(src)
            _check_content(specs)
            self._specs[key] = (specs, rel)
            self._labs[key] = LabCells.from_source(src)
            labs = self._labs[key]
            self._judged[key] = JudgedCells.from_source(src, set(specs) | set(labs.specs if labs else ()),
                                                        not_run=set(specs))
        return self._specs[key]

    def judge(self, assignment: str, notebook_id: str) -> Judge | None:
        """The grader-side judge of this notebook's remaining test cells; None when it has none."""
        with contextlib.suppress(ShifuError):
            self.scoring(assignment, notebook_id)
        judged = self._judged.get((assignment, notebook_id))
        return Judge(judged) if judged is not None and (judged.cells or judged.not_run) else None

    def copies(self, assignment: str) -> Copies:
        """Identical replies and transcripts across the trainees of one assignment (flags for the mentor)."""
        if assignment not in self._copies:
            cd = self.course.coursedir
            folders = {Path(p).parent.name: Path(p) for p in
                       sorted(glob.glob(cd.format_path(cd.submitted_directory, "*", assignment)))}
            specs = {}
            for folder in folders.values():
                for nb in folder.glob("*.ipynb"):
                    if nb.stem not in specs:
                        with contextlib.suppress(ShifuError):
                            specs[nb.stem] = self.scoring(assignment, nb.stem)
            self._copies[assignment] = Copies.find(folders, specs)
        return self._copies[assignment]

    # -- helpers ----------------------------------------------------------------------------------

    def _select(self, sub: Submission) -> None:
        cd = self.course.coursedir
        cd.assignment_id = sub.assignment
        self.conv.notebooks = [str(p) for p in sub.notebooks]

    def _failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        if isinstance(exc, sqlalchemy.exc.OperationalError):
            # the gradebook itself is unreachable or outdated: every submission would fail the same way
            return ShifuError(f"the gradebook {redact(self.course.db_url)} could not be used: {exc.orig} — fix: check "
                              f"the gradebook URL ({SETTING}); after an nbgrader upgrade back it up "
                              "and run `nbgrader db upgrade`")
        if isinstance(exc, ShifuError):
            return exc
        if isinstance(exc, (SchemaTooOldError, SchemaTooNewError)):
            return SubmissionFailed("nbgrader metadata of a cell is damaged (a graded cell copied or its metadata "
                                    "edited) — fix: remove the copied cell from the submitted notebook and grade again")
        if isinstance(exc, SystemExit):
            return SubmissionFailed("nbgrader refused the submission (see .nbgrader.log in the course folder)")
        return SubmissionFailed(describe_exception(exc))


def _check_content(specs: dict[str, CellSpec]) -> None:
    """The scenarios a source notebook's graded cells name exist: a typo there is one named error before
    any grade is written. (Rubrics, scenario files and wording are checked once per run: preflight.py.)"""
    from shifu.roleplay.scenario import load_scenario

    for scenario in sorted({s.scenario for s in specs.values() if s.scenario}):
        load_scenario(scenario)


def describe_exception(exc: BaseException) -> str:
    """One line for a mentor: the nbgrader/nbformat error without its traceback."""
    from nbformat.reader import NotJSONError

    if isinstance(exc, NotJSONError):
        cause = exc.__cause__
        where = f" (line {cause.lineno}, column {cause.colno})" if hasattr(cause, "lineno") else ""
        return f"the notebook file is not valid JSON{where}: it was damaged — fix: ask the trainee to submit it again"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300]


__all__ = ["AutogradePipeline", "Submission", "NotebookJob", "SubmissionFailed", "describe_exception"]
