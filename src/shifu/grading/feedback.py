"""Feedback HTML for trainees, written by nbgrader's own GenerateFeedback converter.

The converter is set up once (its HTML templates load once) and run for one submission at a
time, as soon as that submission is graded, so feedback is written while other notebooks still
execute. It always re-renders (nbgrader's --force), so grades changed by hand since the last run
show. A submission nbgrader cannot render gets no HTML and the others still get theirs. The CJK
glyphs go in at the end (`finish`), one font subset shared by all pages of the run.
"""
from __future__ import annotations

from pathlib import Path

from nbconvert.writers import FilesWriter
from nbgrader.converters import GenerateFeedback, NbGraderException
from nbgrader.preprocessors import ClearHiddenTests

from shifu.labs.fonts import embed_shared_cjk_font
from nbgrader.coursedir import CourseDirectory

from shifu.grading import feedback_items
from shifu.grading.nbgrader_course import NbgraderCourse
from shifu.grading.safe_html import clean_file


class FeedbackWriter:
    """`nbgrader generate_feedback ASSIGNMENT --student STUDENT --force`, reusable."""

    def __init__(self, course: NbgraderCourse):
        # a course directory of its own: the autograde converter changes the shared one's selection
        cd = CourseDirectory(parent=course.app)
        cd.root = course.coursedir.root
        cd.db_url = course.db_url
        cd.notebook_id = "*"
        self.coursedir = cd
        conv = GenerateFeedback(coursedir=cd, parent=course.app)
        conv.force = True
        conv.writer = FilesWriter(parent=conv, config=conv.config)
        conv.exporter = conv.exporter_class(parent=conv, config=feedback_items.page_config(conv.config))
        # trainee output and markdown are untrusted: no <script>, no on…= handlers in the page a mentor opens
        # (nbconvert's own pass misses the feedback template's markdown cells: `write` cleans every page too)
        if hasattr(conv.exporter, "sanitize_html"):
            conv.exporter.sanitize_html = True
        for pp in conv.preprocessors:
            conv.exporter.register_preprocessor(pp)
        # the page goes to the trainee: hidden tests stay hidden (nbgrader's own remover, as at release)
        conv.exporter.register_preprocessor(ClearHiddenTests(parent=conv, enforce_metadata=False), enabled=True)
        # in Chinese, each item named by its exercise and criterion (shifu.grading.feedback_items)
        conv.exporter.register_preprocessor(feedback_items.FeedbackItems(parent=conv), enabled=True)
        self.conv = conv
        self.written: list[Path] = []   # pages still waiting for their CJK glyphs

    def folder(self, assignment: str, student: str) -> Path:
        cd = self.coursedir
        return Path(cd.format_path(cd.feedback_directory, student, assignment))

    def write(self, assignment: str, student: str) -> list[Path]:
        """Render STUDENT's autograded ASSIGNMENT; the HTML files written (none when nbgrader failed)."""
        self.coursedir.assignment_id = assignment
        self.coursedir.student_id = student
        try:
            self.conv.init_notebooks()
            self.conv.convert_notebooks()
        except NbGraderException:
            return []  # logged by nbgrader in .nbgrader.log
        pages = sorted(self.folder(assignment, student).glob("*.html"))
        for page in pages:  # nothing in the page runs, whatever markup a trainee put in (safe_html)
            clean_file(page)
        self.written += pages
        return pages

    def finish(self) -> None:
        """Embed the CJK glyphs in every page written: Chinese must read on a machine without a CJK font, too."""
        pages, self.written = [p for p in self.written if p.exists()], []
        if pages:
            embed_shared_cjk_font(pages)
