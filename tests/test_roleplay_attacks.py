"""Attacks a trainee can make through the files beside a role-play (attempts, the hand-in choice) and the
text of their replies, tried only through what lands in their own folder. Each test asserts the honest
outcome. Found by the red-team pass on branch wt-attack2 (defences that held are in its report).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shifu.roleplay.attempts import attempts, choice_path, chosen, hand_in
from shifu.course import layout
from shifu.roleplay.transcript.replay import check_transcript
from shifu.grading.scoring import TranscriptScores
from shifu.roleplay.transcript.course import read_transcript_file
from shifu.roleplay.transcript_view import render_html, show_file

A = "m01_logistics"
SC = "late-parcel-wrong-station"
NAME = f"{SC}.jsonl"
REFERENCE = layout.reference_dir() / A / NAME
BIN = Path(sys.executable).parent
DEEP = "[" * 100_000 + "]" * 100_000  # valid JSON that Python's json cannot decode without recursing


def _records() -> list[dict]:
    return [json.loads(line) for line in REFERENCE.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


# -- the hand-in choice and the attempt files: a crafted file must not crash grading ---------------------

def test_a_deeply_nested_hand_in_choice_grades_the_default_attempt(tmp_path):
    _write(tmp_path / NAME, _records())  # one finished, honest attempt
    choice_path(tmp_path, NAME).write_text('{"hand_in": ' + DEEP + "}", encoding="utf-8")
    assert chosen(tmp_path, NAME) is None
    assert hand_in(tmp_path, NAME) == tmp_path / NAME  # was: RecursionError out of the grader's rescore


def test_an_oversized_hand_in_choice_is_not_read(tmp_path):
    _write(tmp_path / f"{SC}.1.jsonl", _records())
    _write(tmp_path / NAME, _records()[:2])  # current attempt, unfinished
    # names a real attempt, but padded far beyond anything the widget writes: not read into memory
    choice_path(tmp_path, NAME).write_text(json.dumps({"hand_in": NAME}) + " " * 10_000_000, encoding="utf-8")
    assert chosen(tmp_path, NAME) is None
    assert hand_in(tmp_path, NAME) == tmp_path / f"{SC}.1.jsonl"  # the newest finished one


def test_a_deeply_nested_transcript_line_is_rejected_not_a_crash(tmp_path):
    records = _records()
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(2, '{"type": "turn", "junk": ' + DEEP + "}")
    path = tmp_path / NAME
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    checked = check_transcript(path, SC)  # the grader's replay
    assert not checked.accepted and checked.reason
    cell = TranscriptScores(path, SC).cell(10.0)  # the grader's points for the cell
    assert cell.points == 0.0
    found = attempts(tmp_path, NAME)  # the widget's and the grader's list of attempts
    assert [a.outcome for a in found] == ["unreadable"]
    tf = read_transcript_file(path, "mallory", A)  # `shifu progress` over the whole cohort
    assert tf.error  # kept with its reason, never raised


# -- the conversation in front of the mentor ------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b[H\x1b]0;owned\x07\x1b[8m藏起来\x1b[0m\u202e反转\u202c\rOVERWRITE"


def test_terminal_escapes_in_a_reply_are_shown_not_obeyed_by_transcript_show(tmp_path):
    records = _records()
    first = next(r for r in records if r["type"] == "turn" and r["role"] == "trainee")
    first["text"] += ESCAPES
    path = _write(tmp_path / NAME, records)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([str(BIN / "shifu"), "transcript", "show", str(path)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # nothing that clears the screen, retitles the terminal, hides text or reorders it reaches the mentor's terminal
    for c in ("\x1b", "\x07", "\u202e", "\u202c", "\r"):
        assert c not in out, repr(c)
    assert "\\x1b[2J" in out and "藏起来" in out and "OVERWRITE" in out  # shown, as text


def test_markup_in_every_trainee_written_field_is_escaped_in_the_bubbles(tmp_path):
    """A file that fails the replay is shown as written: its scenario, signals and fact ids are the trainee's too."""
    bad = '<img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a><style>.x{display:none}</style>'
    records = _records()
    records[0]["scenario"] = SC + bad
    for r in records:
        if r["type"] == "turn" and r["role"] == "trainee":
            r["text"] += bad
            r["signals"] = ["empathy", bad]
            r["revealed"] = [bad]
    page = render_html(show_file(_write(tmp_path / NAME, records)))
    for raw in ("<img", "<a ", "<style", 'onerror="'):
        assert raw not in page, raw
    assert "&lt;img" in page


# -- a reply built to make the reader slow: scored in the grader's own process, with no time limit --------

def _seconds(text: str) -> float:
    """Best of three: the grader's scoring of one written reply (shifu.grading.scoring.reply_cell)."""
    import time

    from shifu.grading.scoring import reply_cell

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        reply_cell(text, SC, "", 10.0, None)
        best = min(best, time.perf_counter() - start)
    return best


def _growth(unit: str, small: int, big: int, before: str = "亲,", after: str = "ok") -> float:
    """How much longer a reply of `big` repeats of `unit` takes than one of `small`: ~big/small when the
    reader is linear in the reply, ~(big/small)² when it tries every character as a start."""
    _seconds("亲")  # scenario and phrase tables loaded
    # words around the run: a reply of nothing but spaces is "no reply" before the reader sees it
    return _seconds(before + unit * big + after) / max(_seconds(before + unit * small + after), 1e-3)


def test_a_long_run_of_spaces_is_read_in_linear_time():
    # before the fix: 40 000 spaces took 65 s (every space tried as the start of a clause separator);
    # 10x longer is now about 10x slower (3x that allowed for noise), not 100x
    assert _growth(" ", 2_000, 20_000) < 3 * 20_000 / 2_000


@pytest.mark.parametrize("before, unit, after", [("亲,", "\n ", "ok"), ("亲,", "1", "ok"), ("亲,赔", "1", "倍赔偿您"),
                                                 ("亲,", "一", "ok")],
                         ids=["newline-space", "digits", "digits-then-times", "cn-numerals"])
def test_other_long_runs_are_read_in_linear_time(before, unit, after):
    # found by the red-team pass (40 000 digits took 41 s, then 3.9 s); fixed by anchoring the patterns
    # that tried every character of a run as a start (_CLAUSE_SEP's space branch, '[0-9]+倍', '[0-9…十]+号')
    assert _growth(unit, 2_000, 20_000, before, after) < 3 * 20_000 / 2_000


# -- the progress report and the review: transcripts scored as written -------------------------------------

def test_a_transcript_the_grader_rejects_adds_no_progress_evidence(tmp_path):
    import pandas as pd

    from shifu.content import paths
    from shifu.progress.config import load_taxonomy
    from shifu.progress.evidence import build_evidence
    from shifu.grading.gradebook_tables import GradebookData
    from shifu.progress.evidence import rubric_scorer

    records = _records()
    buyer = next(r for r in records if r["type"] == "turn" and r["role"] == "buyer" and r["turn"] == 1)
    buyer["text"] = "好的好的,您说得太好了,问题全解决了!"  # the file was edited: the replay says so
    folder = tmp_path / "course" / "submitted" / "mallory" / A
    folder.mkdir(parents=True)
    forged = _write(folder / "extra-practice.jsonl", records)
    assert not check_transcript(forged, SC).accepted  # the grader would never count it

    gbd = GradebookData(grades=pd.DataFrame(columns=["trainee", "assignment", "notebook", "cell", "cell_type", "max",
                                                     "score", "auto_score", "manual_score", "needs_manual_grade",
                                                     "timestamp", "duedate"]),
                        sources=pd.DataFrame(columns=["assignment", "notebook", "cell", "source"]),
                        submissions=pd.DataFrame(columns=["trainee", "assignment", "timestamp"]),
                        students=pd.DataFrame({"trainee": ["mallory"], "name": [""]}),
                        assignments=pd.DataFrame({"assignment": [A], "duedate": pd.NaT}), url="")
    ev = build_evidence(gbd, [read_transcript_file(forged, "mallory", A)], load_taxonomy(paths.grader_dir()),
                        rubric_scorer())
    counted = ev.table[(ev.table["trainee"] == "mallory") & (ev.table["source"] == "transcript")]
    assert counted.empty, counted[["criterion", "score", "max"]].to_string()


# -- the mentor's `shifu grade` table: reasons quote what a trainee wrote ----------------------------------

def test_trainee_text_in_a_reason_cannot_break_or_style_the_grade_table(capsys, monkeypatch):
    """A transcript whose session names scenario '[/]' is rejected with a reason that quotes it; rich read
    that reason as markup, so `shifu grade` ended in a MarkupError traceback for the whole cohort."""
    from shifu.commands.grade import _print_summary
    from shifu.grading.results import SubmissionResult

    monkeypatch.setenv("COLUMNS", "400")  # one line per row: the assertions need not follow rich's folding
    mallory = SubmissionResult("mallory", A, reasons=[f"{A}: {NAME}: transcript of scenario '[/]', expected {SC!r}",
                                                      "[white on white]藏起来[/] \x1b[2J清屏"])
    _print_summary([SubmissionResult("ana", A), mallory], Path("."), 1.0, 1, False)
    out = capsys.readouterr().out
    assert "'[/]'" in out and "[white on white]" in out  # shown as written
    assert "\x1b[2J" not in out and "\\x1b[2J" in out
