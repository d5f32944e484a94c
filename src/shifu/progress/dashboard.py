"""The mentor dashboard inside a notebook: the progress report's views, displayed inline.

    from shifu.progress import dashboard
    d = dashboard("course")              # the cohort: heatmap, levels, backlog, at-risk, improved
    d.at_risk                            # any table is a pandas DataFrame
    dashboard("course", trainee="wang_fang")   # one trainee: radar, trends, response time
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from shifu.progress.config import ProgressRules, load_progress_rules
from shifu.progress.evidence import Evidence, Scorer, collect_evidence
from shifu.progress.report import CohortView, TraineeView, cohort_html, cohort_view, trainee_html, trainee_view


@dataclass
class Dashboard:
    """A cohort or trainee view that renders itself as HTML in Jupyter."""

    view: CohortView | TraineeView
    rules: ProgressRules

    @property
    def figures(self) -> dict[str, Figure]:
        return self.view.figures

    @property
    def evidence(self) -> Evidence:
        return self.view.ev

    def __getattr__(self, name: str):
        # tables of the view (prof, at_risk, backlog, trend …) read as d.at_risk
        view = self.__dict__.get("view")
        if view is not None and hasattr(view, name):
            return getattr(view, name)
        raise AttributeError(name)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {k: v for k, v in vars(self.view).items() if isinstance(v, pd.DataFrame)}

    def html(self) -> str:
        if isinstance(self.view, TraineeView):
            return trainee_html(self.view, self.rules)
        return cohort_html(self.view, self.rules)

    def _repr_html_(self) -> str:
        return self.html()


def dashboard(course_dir: str | Path | None = None, trainee: str | None = None, db_url: str | None = None,
              as_of: object | None = None, grader_dir: str | Path | None = None, scorer: Scorer | None | str = "rubric") -> Dashboard:
    """Read the course's gradebook and transcripts; a cohort dashboard, or one trainee's with `trainee`."""
    rules = load_progress_rules(Path(grader_dir) if grader_dir else None)
    ev = collect_evidence(course_dir, db_url, grader_dir, scorer)
    view = trainee_view(ev, rules, trainee, as_of) if trainee else cohort_view(ev, rules, as_of)
    return Dashboard(view, rules)
