import os
import shutil
import subprocess
import sys
from pathlib import Path

from shifu.course import labsetup

BIN = Path(sys.executable).parent


def test_headless_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert labsetup.is_headless()


def test_allow_root_only_as_root(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert "--allow-root" in labsetup.lab_command(tmp_path, 8888, open_browser=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "--allow-root" not in labsetup.lab_command(tmp_path, 8888, open_browser=False)


def _content_copy(dest: Path) -> Path:
    """The project's content in a scratch folder, so building releases and a gradebook leaves the repo alone."""
    from shifu.content import paths

    root = paths.project_root()
    generated = shutil.ignore_patterns("release", "submitted", "autograded", "feedback", "gradebook.db", ".nbgrader.log")
    for name in ("scenarios", "grader", "course", "data"):
        shutil.copytree(root / name, dest / name, ignore=generated)
    return dest


def test_shifu_lab_does_not_block_under_ci(tmp_path):
    """The README's first command must return under CI: JupyterLab starts, answers, and stops."""
    home = _content_copy(tmp_path / "home")
    env = dict(os.environ, CI="true", PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", JUPYTER_RUNTIME_DIR=str(tmp_path),
               SHIFU_HOME=str(home), SHIFU_WORKSPACE=str(tmp_path / "workspace"))
    proc = subprocess.run([str(BIN / "shifu"), "lab", "--port", "18931"], env=env, capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "JupyterLab started and answered at http://127.0.0.1:" in proc.stdout
    assert (tmp_path / "workspace" / "m00_orientation" / "m00_orientation.ipynb").exists()
