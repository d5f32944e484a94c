"""Old home of shifu.course.nbgrader_helpers, kept so old notebooks grade: a hidden test cell's `from shifu.nbgrader_helpers import reply_points` is frozen into
released and submitted notebooks. New code imports shifu.course.nbgrader_helpers; notebooks import shifu.notebook.

Not a copy: shifu.nbgrader_helpers and shifu.course.nbgrader_helpers are one module object (sys.modules), so patching either
name patches both. Written by relayout.py (issue 10).
"""
# relayout.py: alias of a moved module
import sys

import shifu.course.nbgrader_helpers as _home

sys.modules[__name__] = _home
