"""nbgrader configuration for the Shifu course.

Paths are absolute (a relative SQLite URL used from another directory silently creates a new,
empty gradebook). SHIFU_GRADEBOOK_URL points the gradebook at another database, e.g.
postgresql://user@host/shifu for teams with several graders.
"""
import os

c = get_config()  # noqa: F821 (provided by nbgrader)

_here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = _here
c.CourseDirectory.course_id = "shifu"
c.CourseDirectory.db_url = os.environ.get("SHIFU_GRADEBOOK_URL") or "sqlite:///" + os.path.join(_here, "gradebook.db")

# A cell that runs longer than this is interrupted and scores 0; the batch goes on.
c.Execute.timeout = 30

# Reference transcripts live in course/reference/ (outside source/); "reference" stays ignored so an old
# course that still keeps them beside a source notebook never releases them either.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "reference"]

c.ClearSolutions.code_stub = {"python": "# 在这里写你的答案\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "在这里写你的回答"

# The exchange `make lab` sets up on one machine (shifu.course.labsetup): found here too, so
# `nbgrader collect` / `release_feedback` work from any terminal in this folder. The hub's copy of the
# course has no such folder beside it; its users get their exchange from their own settings.
_lab_state = os.environ.get("SHIFU_LAB_STATE") or os.path.join(os.path.dirname(_here), ".shifu", "lab")
if os.path.isdir(os.path.join(_lab_state, "exchange")):
    c.Exchange.root = os.path.join(os.path.abspath(_lab_state), "exchange")
    c.Exchange.cache = os.path.join(os.path.abspath(_lab_state), "cache")
