"""The grading kernel: ipykernel's own launcher, started without what grading never uses.

`python -m shifu.grading.kernel_main -f CONNECTION_FILE` does what `python -m ipykernel_launcher`
does, except that the debugger (debugpy and pydevd, ~0.1 s of imports per kernel: nobody attaches
a debugger to a notebook being graded) is made unavailable first; ipykernel then runs without
debugging support, as it does where debugpy is not installed. Every notebook still gets a fresh
kernel process of its own, in a sandbox of its own (sandbox.py); nothing is shared between them.
"""
from __future__ import annotations

import sys


def main() -> None:
    sys.modules.setdefault("debugpy", None)  # type: ignore[arg-type]  # `import debugpy` → ImportError
    if sys.path and sys.path[0] == "":
        del sys.path[0]   # as ipykernel_launcher does: the working folder is not a package source
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
