"""Old home of shifu.labs.datagen, kept so old notebooks grade: a lab's `from shifu.datagen import lab_data` is frozen into
released and submitted notebooks. New code imports shifu.labs.datagen; notebooks import shifu.notebook.

Not a copy: shifu.datagen and shifu.labs.datagen are one module object (sys.modules), so patching either
name patches both. Written by relayout.py (issue 10).
"""
# relayout.py: alias of a moved module
import sys

import shifu.labs.datagen as _home

sys.modules[__name__] = _home
