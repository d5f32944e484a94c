"""nbgrader shells out to `alembic`, and several tests run the `shifu` and `jupyter` commands:
the interpreter's own bin folder must be on PATH however pytest was started."""
import os
import sys

_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")
