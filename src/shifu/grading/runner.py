"""Grade a whole cohort: nbgrader's autograde for every submission, several notebooks at once.

One event loop, one thread. Kernels start ahead of need and notebooks execute concurrently; every
step that reads or writes the gradebook (nbgrader's preprocessors) runs between awaits, so one
submission at a time touches the database. A submission that fails is reported with a reason and
the others carry on.

Before anything is written: the sandbox is chosen (sandbox.py), the grading content is checked
(preflight.py) and the course lock is taken (lock.py). Each submission is journaled (journal.py)
from its first write until its grades and feedback are written, so an interrupted run is resumed.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import glob
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator, Sequence

import nbformat
import zmq.asyncio

from shifu.content.errors import Problem, ShifuError, display_path
from shifu.grading.autograde import AutogradePipeline, Submission, SubmissionFailed, describe_exception
from shifu.grading.nbgrader_course import NbgraderCourse, open_course, working_directory
from shifu.grading.execute import DeadKernelError, InfrastructureError, KernelRun
from shifu.grading.feedback import FeedbackWriter
from shifu.grading.gradebook import (assignment_ids, assignment_max_score, notebook_ids, redact, require_gradebook, shared_engines,
                        submission_grades)
from shifu.grading.journal import Journal
from shifu.grading.limits import INFRASTRUCTURE_RETRIES, MAX_MESSAGE_BYTES, SandboxLimits, default_workers
from shifu.grading.lock import course_lock
from shifu.grading.pool import WarmPool
from shifu.grading.preflight import check_content
from shifu.grading.reasons import execution_details, points_details, shape_problems
from shifu.grading.results import FAILED, GRADED, SKIPPED, SubmissionResult
from shifu.grading.sandbox import Sandbox, choose, remove_groups

# one notebook may run this long in all; each cell is limited by the course's Execute.timeout too
from shifu.grading.limits import DEFAULT_NOTEBOOK_TIMEOUT

Report = Callable[[SubmissionResult], None]

# progress(done, total, result): called once with (0, total, None) when the plan is made, then once
# per submission as it is finished (graded, skipped or failed), in the order they finish
Progress = Callable[[int, int, "SubmissionResult | None"], None]


def grade_course(course_dir: Path, assignment: str | Sequence[str] | None = None, workers: int | None = None,
                 timeout: int | None = None, db_url: str | None = None, progress: Progress | None = None,
                 force: bool = False, feedback: bool = True, sandbox: bool = True,
                 limits: SandboxLimits | None = None, notes: list[str] | None = None) -> list[SubmissionResult]:
    """Autograde every submission in COURSE_DIR (or of ASSIGNMENT: one name or several), then write feedback HTML.

    workers: notebooks executing at once (default: cores + 1). timeout: seconds one notebook may
    run in all (default 600; 0 for none). db_url: the gradebook, overriding the course config
    (gradebook.gradebook_url). progress: told of each finished submission (see Progress); the
    caller draws it. force: grade again submissions graded before. sandbox: False runs trainee
    code unconfined (unsafe). limits: rlimits of each kernel. notes: receives lines for the mentor
    (a lock taken over); written to the course's .nbgrader.log either way. Returns one result per submission,
    by assignment, then student.

    Raises ShifuError (nothing graded) for: no usable sandbox, broken grading content, a course
    another run is grading, a bad course or gradebook, an unknown assignment, or a bad workers /
    timeout value. Each problem's field names the parameter or setting at fault ("course",
    "gradebook", "assignment", "workers", "timeout"), so a command can name its own flag.
    """
    box = choose(unsafe=not sandbox, limits=limits)
    check_content()
    course = open_course(Path(course_dir), db_url)
    workers = workers or default_workers()
    if workers < 1:
        raise ShifuError([Problem("", "workers", f"must be at least 1, got {workers}", "use 1 or more")])
    notebook_timeout = DEFAULT_NOTEBOOK_TIMEOUT if timeout is None else timeout
    if notebook_timeout < 0:
        raise ShifuError([Problem("", "timeout", f"must be 0 (no limit) or more seconds, got {timeout}", "")])
    said: list[str] = [] if notes is None else notes
    with course_lock(course.root, said), working_directory(course.root), _quiet_warnings(), shared_engines():
        for line in said:
            course.log.warning(line)  # in .nbgrader.log too, whoever called
        journal = Journal(course.root)
        plan, results = _plan(course, assignment, force, journal)
        report = _counter(progress, total=len(plan) + len(results))
        for r in results:
            report(r)
        writer = FeedbackWriter(course) if feedback else None
        try:
            results += _run_loop(_grade_all(course, plan, workers, notebook_timeout or None, writer,
                                            report, box, journal))
        finally:
            if writer is not None:
                writer.finish()
    return sorted(results, key=lambda r: (r.assignment, r.student))


def _counter(progress: Progress | None, total: int) -> Report:
    """A Report that counts finished submissions for PROGRESS (told (0, total, None) now)."""
    if progress is None:
        return lambda result: None
    progress(0, total, None)
    done = 0

    def report(result: SubmissionResult) -> None:
        nonlocal done
        done += 1
        progress(done, total, result)
    return report


# -- planning -------------------------------------------------------------------------------------

def _plan(course: NbgraderCourse, assignment: str | Sequence[str] | None, force: bool,
          journal: Journal) -> tuple[list[tuple[AutogradePipeline, Submission]], list[SubmissionResult]]:
    """The submissions to grade, and results for those there is nothing to run for (unknown
    assignment, a folder nbgrader would pass over). Submissions an earlier run left half-graded
    lose what that run wrote, so they are graded again."""
    cd = course.coursedir
    require_gradebook(course.db_url)  # a SQLite gradebook not there yet would be created empty
    known = assignment_ids(course.db_url, cd.course_id)
    submitted = {Path(p).name for p in glob.glob(cd.format_path(cd.submitted_directory, "*", "*")) if os.path.isdir(p)}
    if assignment is not None:
        wanted = [assignment] if isinstance(assignment, str) else list(dict.fromkeys(assignment))
        for name in wanted:
            if name not in known:
                raise ShifuError([Problem(display_path(course.root), "assignment",
                                          f"{name!r} is not in the gradebook {redact(course.db_url)}"
                                          + (f" (it has: {', '.join(sorted(known))})" if known else " (it has no assignments)"),
                                          f"generate it first: `nbgrader generate_assignment {name}` in the course folder")])
    else:
        wanted = sorted(known | submitted)
    pipeline = AutogradePipeline(course, force=force)
    plan: list[tuple[AutogradePipeline, Submission]] = []
    unknown: list[SubmissionResult] = _unreadable_folders(course, wanted, every=assignment is None)
    for a in wanted:
        subs = pipeline.submissions(a)
        for s in subs:
            if journal.interrupted(s.assignment, s.student):
                pipeline.fail(s)  # its autograded folder is from a run that never finished
        if a not in known:
            unknown += [SubmissionResult(s.student, a, status=FAILED, reasons=[
                f"assignment {a!r} is not in the gradebook — fix: `nbgrader generate_assignment {a}` in the course folder"])
                for s in subs]
            continue
        plan += [(pipeline, s) for s in subs]
    return plan, unknown


def _unreadable_folders(course: NbgraderCourse, wanted: list[str], every: bool) -> list[SubmissionResult]:
    """Folders under submitted/ that nbgrader passes over without a word: hidden (dot) names, and
    assignment folders with no notebook. Each is reported, so every folder is graded or named."""
    cd = course.coursedir
    top = Path(cd.format_path(cd.submitted_directory, ".", ".")).resolve()
    out: list[SubmissionResult] = []
    if not top.is_dir():
        return out
    for student_dir in sorted(p for p in top.iterdir() if p.is_dir()):
        student = student_dir.name
        if student.startswith("."):
            out.append(SubmissionResult(student, "-", status=FAILED, reasons=[
                f"not graded: folder submitted/{student} starts with '.', which nbgrader skips — fix: rename it "
                "to the trainee's id (or remove it if it is not a submission)"]))
            continue
        folders = sorted(p for p in student_dir.iterdir() if p.is_dir())
        if not any(not f.name.startswith(".") for f in folders) and every:
            out.append(SubmissionResult(student, "-", status=FAILED, reasons=[
                f"not graded: submitted/{student} holds no assignment folder — fix: files go in "
                f"submitted/{student}/<assignment>/"]))
        for folder in folders:
            name = folder.name
            if name.startswith("."):
                if name != ".ipynb_checkpoints":
                    out.append(SubmissionResult(student, name, status=FAILED, reasons=[
                        f"not graded: folder submitted/{student}/{name} starts with '.', which nbgrader skips — "
                        "fix: rename it to the assignment's name"]))
                continue
            if name in wanted and not any(folder.glob("*.ipynb")):
                out.append(SubmissionResult(student, name, status=FAILED, reasons=[
                    f"not graded: submitted/{student}/{name} holds no notebook — fix: ask the trainee to submit "
                    "the .ipynb file again"]))
    return out


# -- the loop -------------------------------------------------------------------------------------

async def _grade_all(course: NbgraderCourse, plan: list[tuple[AutogradePipeline, Submission]], workers: int,
                     notebook_timeout: float | None, feedback: FeedbackWriter | None,
                     report: Report, box: Sandbox, journal: Journal) -> list[SubmissionResult]:
    pool = WarmPool(workers)
    tasks: list[asyncio.Task] = []
    results: list[SubmissionResult] = []
    kernel_log = open(course.log_path, "a", encoding="utf-8")  # kernels' own start-up chatter
    context = zmq.asyncio.Context()
    # a kernel's single message past this is dropped by zmq before it reaches the grader's memory
    context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
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
                journal.begin(sub.assignment, sub.student)
                pipeline.prepare(sub)
            except SubmissionFailed as exc:
                _finish_failed(course, sub, result, str(exc), began)
                journal.done(sub.assignment, sub.student)  # nothing of it left behind: a later run grades it afresh
                results.append(result)
                report(result)
                continue
            runs = []
            try:
                for job in sub.jobs:
                    pristine = copy.deepcopy(job.nb)  # what a retry starts from
                    run = KernelRun(pipeline.executor(), job.nb, job.resources, kernel_log, context, sockets, box,
                                    judge=pipeline.judge(sub.assignment, job.notebook_id))
                    runs.append((job, run, await pool.warm(run), pristine))
            except (asyncio.CancelledError, KeyboardInterrupt):  # cancelled (Ctrl-C): a half-done submission must not look graded next time
                pipeline.fail(sub)
                raise
            job_env = (kernel_log, context, sockets, box)
            tasks.append(asyncio.ensure_future(
                _grade_one(course, pipeline, pool, sub, runs, result, began, notebook_timeout, feedback, report,
                           journal, job_env)))
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
        remove_groups(os.path.basename(sockets))
    return results


async def _grade_one(course: NbgraderCourse, pipeline: AutogradePipeline, pool: WarmPool, sub: Submission, runs: list,
                     result: SubmissionResult, began: float, notebook_timeout: float | None,
                     feedback: FeedbackWriter | None, report: Report, journal: Journal,
                     job_env: tuple) -> SubmissionResult:
    try:
        done = await _grade_runs(course, pipeline, pool, sub, runs, result, began, notebook_timeout, feedback, report,
                                 job_env)
        journal.done(sub.assignment, sub.student)  # grades and feedback are written (or it failed cleanly)
        return done
    except (asyncio.CancelledError, KeyboardInterrupt):  # cancelled (Ctrl-C): a half-done submission must not look graded next time
        pipeline.fail(sub)
        raise


async def _grade_runs(course: NbgraderCourse, pipeline: AutogradePipeline, pool: WarmPool, sub: Submission, runs: list,
                      result: SubmissionResult, began: float, notebook_timeout: float | None,
                      feedback: FeedbackWriter | None, report: Report, job_env: tuple) -> SubmissionResult:
    failure: str | None = None
    executed = {}
    details: list[str] = []
    cell_timeout = None
    for job, run, starting, pristine in runs:
        if failure is not None:
            starting.cancel()
            pool.stop(run, now=True)
            continue
        for attempt in range(INFRASTRUCTURE_RETRIES + 1):
            retry = False
            async with pool.turn():
                try:
                    await starting
                    outcome = await run.run(notebook_timeout)
                except InfrastructureError as exc:
                    if attempt < INFRASTRUCTURE_RETRIES:
                        retry = True
                    else:
                        failure = (f"{job.notebook_id}: infrastructure, not the trainee's work: {exc} (tried "
                                   f"{attempt + 1} times) — fix: run `shifu grade` again when the machine is less busy")
                except DeadKernelError:
                    failure = f"{job.notebook_id}: the kernel died before any cell ran (a crash, or out of memory)"
                except Exception as exc:
                    failure = f"{job.notebook_id}: {describe_exception(exc)}"
            # the box and all in it are thrown away: a polite shutdown would only spend the kernel's CPU on
            # saving history and running exit hooks, and the grader's waiting for it
            pool.stop(run, now=True)
            if not retry:
                break
            course.log.warning("Infrastructure failure grading %s/%s, retrying with a fresh kernel",
                               sub.student, sub.assignment)
            kernel_log, context, sockets, box = job_env
            job.nb = copy.deepcopy(pristine)
            run = KernelRun(pipeline.executor(), job.nb, job.resources, kernel_log, context, sockets, box,
                            judge=pipeline.judge(sub.assignment, job.notebook_id))
            starting = await pool.warm(run)
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


def _shape(course: NbgraderCourse, sub: Submission) -> list[str]:
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


def _add_grades(course: NbgraderCourse, sub: Submission, result: SubmissionResult, executed: dict) -> None:
    grades = submission_grades(course.db_url, course.coursedir.course_id, sub.assignment, sub.student)
    if grades is None:
        result.max_score = assignment_max_score(course.db_url, course.coursedir.course_id, sub.assignment)
        return
    result.score, result.max_score = grades.score, grades.max_score
    result.reasons += points_details(grades, executed)


def _finish_failed(course: NbgraderCourse, sub: Submission, result: SubmissionResult, why: str, began: float) -> None:
    result.status = FAILED
    result.reasons = [f"not graded: {why}"] + result.reasons
    grades = submission_grades(course.db_url, course.coursedir.course_id, sub.assignment, sub.student)
    result.score = grades.score if grades else 0.0
    result.max_score = grades.max_score if grades else assignment_max_score(course.db_url, course.coursedir.course_id, sub.assignment)
    result.seconds = time.monotonic() - began


def _finish_skipped(course: NbgraderCourse, pipeline: AutogradePipeline, sub: Submission, result: SubmissionResult) -> None:
    """Graded in an earlier run: report what the gradebook holds now."""
    result.status = SKIPPED
    dest = Path(pipeline.conv._format_dest(sub.assignment, sub.student))
    executed = {}
    for path in dest.glob("*.ipynb"):
        with contextlib.suppress(Exception):
            executed[path.stem] = nbformat.read(path, as_version=4)
    grades = submission_grades(course.db_url, course.coursedir.course_id, sub.assignment, sub.student)
    result.reasons.append("graded before (`shifu grade --force` grades it again)")
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
