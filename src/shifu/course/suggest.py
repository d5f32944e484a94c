"""`shifu course suggest`: the LLM judge's opinion, pre-filled where the mentor grades the review.

nbgrader's formgrader shows each task cell's comment beside its score box. The suggestion goes into
the comment's `auto_comment` (the machine's slot; a mentor's own comment replaces it on screen) and
never into points: the mentor decides the score. Nothing happens without a configured LLM.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from shifu.content.errors import ShifuError
from shifu.grading.gradebook import gradebook_url, open_gradebook

REVIEW_PREFIX = "review__"

Judge = Callable[[list[Path], str, str], str]  # (transcripts, competency, assignment) -> suggestion text


@dataclass
class SuggestResult:
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.written)} review comment(s) pre-filled, {len(self.skipped)} skipped, {len(self.failed)} failed"
        if self.failed:
            text += "\n" + "\n".join(f"  {f}" for f in self.failed[:10])
        return text


def suggestion_label() -> str:
    """The line shown before every suggestion so no mentor takes it for a grade (grader/judge.yaml
    `suggestion.label`)."""
    from shifu.reading.judge import load_prompts

    return load_prompts().suggestion.label


def llm_configured() -> bool:
    """Whether an LLM endpoint is configured (files or SHIFU_LLM_* environment): a model, and a base URL
    or a key for api.openai.com. The judge then talks to it through shifu.llm.client (reasoning removed,
    refused parameters adapted)."""
    from shifu.llm.config import load_llm_config

    try:
        load_llm_config()
    except ShifuError:
        return False
    return True


class JudgeUnavailable(Exception):
    """The model could not be used for this transcript; the mentor grades without a suggestion."""


def default_judge() -> Judge:
    """shifu.reading.judge on each role-play transcript: its comment and per-criterion reasoning, as text."""
    from shifu.reading.judge import judge_transcript, load_prompts
    from shifu.course.spec import course_text

    labels = course_text()["criterion_labels"]
    words = load_prompts().suggestion

    def run(transcripts: list[Path], competency: str, assignment: str) -> str:
        parts = []
        for path in transcripts:
            res = judge_transcript(path)
            if not res.ok:
                raise JudgeUnavailable(res.error or res.comment)
            lines = [words.transcript.format(transcript=path.stem, comment=res.comment)]
            lines += [words.criterion.format(label=labels.get(c.id, c.id), score=c.score, max=c.max, reasoning=c.reasoning)
                      for c in res.criteria]
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    return run


def suggest_reviews(course: Path, assignment: str | None = None, db_url: str | None = None, overwrite: bool = False,
                    judge: Judge | None = None) -> SuggestResult:
    """Write one suggestion per review cell per submission that has role-play transcripts."""
    from nbgrader.api import MissingEntry

    if judge is None:
        from shifu.llm.config import load_llm_config

        load_llm_config()  # no model configured: a clear error saying how to configure one, before any work
        judge = default_judge()
    url = gradebook_url(course, db_url)
    label = suggestion_label()  # a broken judge.yaml stops the run before the gradebook is opened
    result = SuggestResult()
    with open_gradebook(url) as gb:
        assignments = [a for a in gb.assignments if assignment is None or a.name == assignment]
        if assignment and not assignments:
            raise ShifuError(f"no assignment {assignment!r} in the gradebook — fix: grade it first (`shifu grade`)")
        for a in assignments:
            for nb in a.notebooks:
                cells = [c.name for c in nb.task_cells if c.name.startswith(REVIEW_PREFIX)]
                if not cells:
                    continue
                for sub in a.submissions:
                    who = f"{sub.student.id}/{a.name}"
                    folder = course / "submitted" / sub.student.id / a.name
                    # <scenario>.jsonl is the graded conversation; <scenario>.<n>.jsonl are earlier, archived tries
                    transcripts = sorted(p for p in folder.glob("*.jsonl") if "." not in p.stem)
                    if not transcripts:
                        result.skipped.append(f"{who}: no role-play transcript")
                        continue
                    for cell in cells:
                        try:
                            comment = gb.find_comment(cell, nb.name, a.name, sub.student.id)
                        except MissingEntry:
                            result.skipped.append(f"{who}: {cell} not graded yet")
                            continue
                        if comment.auto_comment and not overwrite:
                            result.skipped.append(f"{who}: {cell} already has a suggestion")
                            continue
                        try:
                            text = judge(transcripts, cell[len(REVIEW_PREFIX):], a.name).strip()
                        except ShifuError:
                            raise
                        except JudgeUnavailable as exc:
                            result.failed.append(f"{who}: the LLM judge could not be used: {exc}")
                            continue
                        except Exception as exc:  # one failed call must not stop the rest of the cohort
                            result.failed.append(f"{who}: {type(exc).__name__}: {exc}")
                            continue
                        if not text:
                            result.skipped.append(f"{who}: the judge had nothing to say")
                            continue
                        comment.auto_comment = f"{label}\n{text}"
                        gb.db.commit()
                        result.written.append(f"{who}: {cell}")
    return result
