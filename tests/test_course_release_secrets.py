"""Nothing trainees receive holds a solution, a hidden test or a reference transcript.

The release notebooks are built afresh from every source assignment in a scratch course, a trainee
workspace is filled from them the way `shifu lab` fills it, and every file in both is scanned for
the secrets of each assignment (shifu.course.check.secrets_of): solution lines, hidden test lines
and the replies of its reference transcripts (course/reference, outside anything nbgrader copies).
"""
from __future__ import annotations

import shutil

import pytest

from shifu.content import paths
from shifu.course import layout
from shifu.course.build import build_course
from shifu.course.check import scan_for_secrets, secrets_of
from shifu.course.workspace import sync_workspace


@pytest.fixture(scope="module")
def handed_out(tmp_path_factory):
    course = tmp_path_factory.mktemp("secrets") / "course"
    course.mkdir()
    shutil.copy2(paths.course_dir() / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(layout.source_dir(), layout.source_dir(course))
    db = "sqlite:///" + str(course / "gradebook.db")
    built = build_course(course, db_url=db)
    assert all(b.ok for b in built), [b.error for b in built if not b.ok]
    workspace = course.parent / "workspace"
    prepared = sync_workspace(course, workspace)
    assert prepared.copied and not prepared.not_built
    return course, workspace


def _secrets(course):
    out = {}
    for a in layout.source_assignments(course):
        out.update(secrets_of(paths.course_dir(), a))  # the real course: the scratch one has no reference transcripts
    return out


def test_the_secrets_are_found_where_they_are(handed_out):
    course, _ = handed_out
    secrets = _secrets(course)
    kinds = {what.split(" of ")[0] for what in secrets.values()}
    assert {"solution line", "hidden test line", "reply"} <= kinds
    assert scan_for_secrets(layout.source_dir(course) / "m01_logistics", secrets)  # the scan can find them


@pytest.mark.slow
def test_release_and_workspace_hold_no_solution_hidden_test_or_reference(handed_out):
    course, workspace = handed_out
    found = []
    for a in layout.source_assignments(course):  # a line one lab gives out may be another lab's solution
        secrets = secrets_of(paths.course_dir(), a)
        found += scan_for_secrets(layout.release_dir(course) / a, secrets)
        found += scan_for_secrets(workspace / a, secrets)
    assert found == []
    assert not list(workspace.rglob("*.jsonl")) and not list(workspace.rglob("reference"))


def test_a_planted_secret_in_a_workspace_is_reported(handed_out, tmp_path):
    course, _ = handed_out
    secrets = _secrets(course)
    line = next(s for s, what in secrets.items() if what.startswith("reply of reference"))
    (tmp_path / "notes.txt").write_text(f"抄来的:{line}\n", encoding="utf-8")
    found = scan_for_secrets(tmp_path, secrets)
    assert found and found[0].startswith("notes.txt: reply of reference transcript")
