"""Grade a whole cohort: nbgrader's autograde for every submission, several notebooks at once.

One event loop, one thread. Kernels start ahead of need and notebooks execute concurrently; every
step that reads or writes the gradebook (nbgrader's preprocessors) runs between awaits, so one
submission at a time touches the database. A submission that fails is reported with a reason and
the others carry on.
"""
from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

import nbformat
import sqlalchemy
import zmq.asyncio

from ..errors import Problem, ShifuError, display_path
from .autograde import AutogradePipeline, Submission, SubmissionFailed, describe_exception
from .course import Course, open_course, redact, working_directory
from .execute import DeadKernelError, KernelRun
from .feedback import FeedbackWriter
from .gradebook import assignment_ids, assignment_max_score, notebook_ids, shared_engines, submission_grades
from .limits import default_workers
from .pool import WarmPool
from .reasons import execution_details, points_details, shape_problems
from .results import FAILED, GRADED, SKIPPED, SubmissionResult

# one notebook may run this long in all; each cell is limited by the course's Execute.timeout too
from .limits import DEFAULT_NOTEBOOK_TIMEOUT

Report = Callable[[SubmissionResult], None]


def grade_course(course_dir: Path, assignment: str | None = None, workers: int | None = None,
                 timeout: int | None = None, db_url: str | None = None, progress: bool = True,
                 force: bool = False, feedback: bool = True) -> list[SubmissionResult]:
    """Autograde every submission in COURSE_DIR (or of ASSIGNMENT), then write feedback HTML.

    workers: notebooks executing at once (default: cores + 1). timeout: seconds one notebook may
    run in all (default 600; 0 for none). db_url: the gradebook, overriding the course config.
    force: grade again submissions graded before. Returns one result per submission, by
    assignment, then student.
    """
    course = open_course(Path(course_dir), db_url)
    workers = workers or default_workers()
    if workers < 1:
        raise ShifuError([Problem("", "--workers", f"must be at least 1, got {workers}", "use --workers 1 or more")])
    notebook_timeout = DEFAULT_NOTEBOOK_TIMEOUT if timeout is None else timeout
    if notebook_timeout < 0:
        raise ShifuError([Problem("", "--timeout", f"must be 0 (no limit) or more seconds, got {timeout}", "")])
    with working_directory(course.root), _quiet_warnings(), shared_engines(), _display(progress) as display:
        plan, results = _plan(course, assignment, force)
        total = len(plan) + len(results)
        display.start("grading", total)
        for r in results:
            display.advance(r)
        writer = FeedbackWriter(course) if feedback else None
        results += _run_loop(_grade_all(course, plan, workers, notebook_timeout or None, writer, display.advance))
    return sorted(results, key=lambda r: (r.assignment, r.student))


# -- planning -------------------------------------------------------------------------------------

def _plan(course: Course, assignment: str | None, force: bool) -> tuple[list[tuple[AutogradePipeline, Submission]], list[SubmissionResult]]:
    """The submissions to grade, and results for those there is nothing to run for (unknown assignment)."""
    cd = course.coursedir
    _check_gradebook_exists(course)
    try:
        known = assignment_ids(course.db_url, cd.course_id)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise ShifuError([Problem(redact(course.db_url), "gradebook", f"cannot open it: {getattr(exc, 'orig', exc)}",
                                  "check --db / SHIFU_GRADEBOOK_URL, or run `nbgrader generate_assignment` in the course first")]) from None
    submitted = {Path(p).name for p in glob.glob(cd.format_path(cd.submitted_directory, "*", "*")) if os.path.isdir(p)}
    if assignment is not None:
        if assignment not in known:
            raise ShifuError([Problem(display_path(course.root), "--assignment",
                                      f"{assignment!r} is not in the gradebook {redact(course.db_url)}"
                                      + (f" (it has: {', '.join(sorted(known))})" if known else " (it has no assignments)"),
                                      f"generate it first: `nbgrader generate_assignment {assignment}` in the course folder")])
        wanted = [assignment]
    else:
        wanted = sorted(known | submitted)
    pipeline = AutogradePipeline(course, force=force)
    plan: list[tuple[AutogradePipeline, Submission]] = []
    unknown: list[SubmissionResult] = []
    for a in wanted:
        subs = pipeline.submissions(a)
        if a not in known:
            unknown += [SubmissionResult(s.student, a, status=FAILED, reasons=[
                f"assignment {a!r} is not in the gradebook — fix: `nbgrader generate_assignment {a}` in the course folder"])
                for s in subs]
            continue
        plan += [(pipeline, s) for s in subs]
    return plan, unknown


def _check_gradebook_exists(course: Course) -> None:
    """A SQLite gradebook that is not there yet would be created empty: say what to do instead."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(course.db_url)
    except Exception:
        raise ShifuError([Problem("", "--db", f"{course.db_url!r} is not a database URL",
                                  "use e.g. sqlite:////abs/path/gradebook.db or postgresql://user@host/db")]) from None
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not Path(url.database).exists():
        raise ShifuError([Problem(display_path(url.database), "gradebook", "there is no gradebook here yet",
                                  "generate the assignments first (`nbgrader generate_assignment NAME` in the course "
                                  "folder), or point --db / SHIFU_GRADEBOOK_URL at the gradebook")])


# -- the loop -------------------------------------------------------------------------------------

async def _grade_all(course: Course, plan: list[tuple[AutogradePipeline, Submission]], workers: int,
                     notebook_timeout: float | None, feedback: FeedbackWriter | None,
                     report: Report) -> list[SubmissionResult]:
    pool = WarmPool(workers)
    tasks: list[asyncio.Task] = []
    results: list[SubmissionResult] = []
    kernel_log = open(course.log_path, "a", encoding="utf-8")  # kernels' own start-up chatter
    context = zmq.asyncio.Context()
    sockets = tempfile.mkdtemp(prefix="shifu-k-")  # short path: a Unix socket path has ~100 characters
    try:
        for pipeline, sub in plan:
            began = time.monotonic()
            result = SubmissionResult(sub.student, sub.assignment)
            try:
                if not pipeline.should_grade(sub):
                    _finish_skipped(course, pipeline, sub, result)
                    _write_feedback(feedback, result)
                    results.append(result)
                    report(result)
                    continue
                result.reasons += _shape(course, sub)
                pipeline.prepare(sub)
            except SubmissionFailed as exc:
                _finish_failed(course, sub, result, str(exc), began)
                results.append(result)
                report(result)
                continue
            runs = []
            try:
                for job in sub.jobs:
                    run = KernelRun(pipeline.executor(), job.nb, job.resources, kernel_log, context, sockets)
                    runs.append((job, run, await pool.warm(run)))
            except (asyncio.CancelledError, KeyboardInterrupt):  # cancelled (Ctrl-C): a half-done submission must not look graded next time
                pipeline.fail(sub)
                raise
            tasks.append(asyncio.ensure_future(
                _grade_one(course, pipeline, pool, sub, runs, result, began, notebook_timeout, feedback, report)))
            await asyncio.sleep(0)  # let started notebooks take their turns while the next ones are prepared
        results += await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pool.close()
        kernel_log.close()
        context.destroy(linger=0)
        shutil.rmtree(sockets, ignore_errors=True)
    return results


async def _grade_one(course: Course, pipeline: AutogradePipeline, pool: WarmPool, sub: Submission, runs: list,
                     result: SubmissionResult, began: float, notebook_timeout: float | None,
                     feedback: FeedbackWriter | None, report: Report) -> SubmissionResult:
    try:
        return await _grade_runs(course, pipeline, pool, sub, runs, result, began, notebook_timeout, feedback, report)
    except (asyncio.CancelledError, KeyboardInterrupt):  # cancelled (Ctrl-C): a half-done submission must not look graded next time
        pipeline.fail(sub)
        raise


async def _grade_runs(course: Course, pipeline: AutogradePipeline, pool: WarmPool, sub: Submission, runs: list,
                      result: SubmissionResult, began: float, notebook_timeout: float | None,
                      feedback: FeedbackWriter | None, report: Report) -> SubmissionResult:
    failure: str | None = None
    executed = {}
    details: list[str] = []
    cell_timeout = None
    for job, run, starting in runs:
        if failure is not None:
            starting.cancel()
            pool.stop(run, now=True)
            continue
        stuck = True
        async with pool.turn():
            try:
                await starting
                outcome = await run.run(notebook_timeout)
                stuck = bool(outcome.timed_out_cells)
            except DeadKernelError:
                failure = f"{job.notebook_id}: the kernel died (a crash, or it ran out of memory)"
            except Exception as exc:
                failure = f"{job.notebook_id}: {describe_exception(exc)}"
        pool.stop(run, now=stuck)
        if failure is not None:
            continue
        cell_timeout = run.ep.timeout
        try:
            pipeline.finish_notebook(sub, job, run.nb)
        except SubmissionFailed as exc:
            failure = f"{job.notebook_id}: {exc}"
            continue
        executed[job.notebook_id] = run.nb
        details += execution_details(run.nb, outcome, cell_timeout, notebook_timeout)
    if failure is None:
        try:
            pipeline.finish(sub)
        except SubmissionFailed as exc:
            failure = str(exc)
    if failure is not None:
        pipeline.fail(sub)
        _finish_failed(course, sub, result, failure, began)
    else:
        result.status = GRADED
        result.reasons += details
        _add_grades(course, sub, result, executed)
        _write_feedback(feedback, result)
        result.seconds = time.monotonic() - began
    result.reasons += sub.notes  # the grader's own scoring: rejected transcripts, possible copies (for the mentor)
    report(result)
    return result


def _shape(course: Course, sub: Submission) -> list[str]:
    cd = course.coursedir
    try:
        expected = notebook_ids(course.db_url, cd.course_id, sub.assignment)
    except Exception:
        return []
    problems = [f"{name}.ipynb not submitted: it scores 0" for name in expected
                if not (sub.folder / f"{name}.ipynb").exists()]
    for path in sub.notebooks:
        released = Path(cd.format_path(cd.release_directory, ".", sub.assignment)) / path.name
        problems += shape_problems(path, course.db_url, cd.course_id, sub.assignment, released)
    return problems


def _add_grades(course: Course, sub: Submission, result: SubmissionResult, executed: dict) -> None:
    grades = submission_grades(course.db_url, course.coursedir.course_id, sub.assignment, sub.student)
    if grades is None:
        result.max_score = assignment_max_score(course.db_url, course.coursedir.course_id, sub.assignment)
        return
    result.score, result.max_score = grades.score, grades.max_score
    result.reasons += points_details(grades, executed)


def _finish_failed(course: Course, sub: Submission, result: SubmissionResult, why: str, began: float) -> None:
    result.status = FAILED
    result.reasons = [f"not graded: {why}"] + result.reasons
    grades = submission_grades(course.db_url, course.coursedir.course_id, sub.assignment, sub.student)
    result.score = grades.score if grades else 0.0
    result.max_score = grades.max_score if grades else assignment_max_score(course.db_url, course.coursedir.course_id, sub.assignment)
    result.seconds = time.monotonic() - began


def _finish_skipped(course: Course, pipeline: AutogradePipeline, sub: Submission, result: SubmissionResult) -> None:
    """Graded in an earlier run: report what the gradebook holds now."""
    result.status = SKIPPED
    dest = Path(pipeline.conv._format_dest(sub.assignment, sub.student))
    executed = {}
    for path in dest.glob("*.ipynb"):
        with contextlib.suppress(Exception):
            executed[path.stem] = nbformat.read(path, as_version=4)
    grades = submission_grades(course.db_url, course.coursedir.course_id, sub.assignment, sub.student)
    result.reasons.append("graded before (--force grades it again)")
    if grades is not None:
        result.score, result.max_score = grades.score, grades.max_score
        result.reasons += points_details(grades, executed)


def _write_feedback(writer: FeedbackWriter | None, result: SubmissionResult) -> None:
    """Feedback right after grading, while other notebooks still run."""
    if writer is None:
        return
    result.feedback = writer.write(result.assignment, result.student)
    if not result.feedback:
        result.reasons.append("no feedback HTML: nbgrader could not render it (see .nbgrader.log)")


# -- plumbing -------------------------------------------------------------------------------------

def _run_loop(coro):  # type: ignore[no-untyped-def]
    """asyncio.run, also from code that already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc
    thread = threading.Thread(target=target, name="shifu-grade")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    """nbgrader and nbformat warn about things the reasons already say (duplicate cell ids, detached rows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class _Display:
    """No display: grading called from code."""

    def start(self, what: str, total: int) -> None: ...

    def advance(self, result: SubmissionResult | None) -> None: ...


class _RichDisplay(_Display):
    def __init__(self, progress):  # type: ignore[no-untyped-def]
        self.progress = progress
        self.task = None

    def start(self, what: str, total: int) -> None:
        self.task = self.progress.add_task(what, total=total, status="")

    def advance(self, result: SubmissionResult | None) -> None:
        label = f"{result.student}/{result.assignment} {result.score:g}/{result.max_score:g}" if result else ""
        self.progress.update(self.task, advance=1, status=label)


@contextlib.contextmanager
def _display(enabled: bool) -> Iterator[_Display]:
    if not enabled:
        yield _Display()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[status]}", style="dim"), console=Console(stderr=True)) as progress:
        yield _RichDisplay(progress)
