"""Old home of shifu.labs.labcheck, kept so old notebooks grade: a lab's `from shifu import labcheck` is frozen into
released and submitted notebooks. New code imports shifu.labs.labcheck; notebooks import shifu.notebook.

Not a copy: shifu.labcheck and shifu.labs.labcheck are one module object (sys.modules), so patching either
name patches both. Written by relayout.py (issue 10).
"""
# relayout.py: alias of a moved module
import sys

import shifu.labs.labcheck as _home

sys.modules[__name__] = _home
