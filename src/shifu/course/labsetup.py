"""What `shifu lab` sets up around JupyterLab on one machine (nbgrader's exchange, each role's settings), and how it starts it.

Single-user mode has the trainee and the mentor on the same machine, usually as the same Unix user,
so the two roles are told apart by the settings folder JupyterLab starts with (JUPYTER_CONFIG_PATH),
as the hub does for its users (shifu.hub.up):

  <state>/exchange/              nbgrader's exchange (Exchange.root): released assignments, submissions
  <state>/cache/                 nbgrader's submission cache (Exchange.cache), kept out of ~/.local
  <state>/jupyter/trainee/       nbgrader_config.py (course id, exchange), jupyter_server_config.json
                                 (formgrader and course list off), labconfig/page_config.json (their
                                 lab plugins off), lab-settings/overrides.json (Chinese UI, Markdown
                                 opens rendered)
  <state>/jupyter/mentor/        the same with the course root, the formgrader and the Create
                                 Assignment toolbar on

<state> is SHIFU_LAB_STATE, else .shifu/lab/ at the project root (ignored by git).

The trainee's JupyterLab starts in the workspace (shifu.course.workspace) with the Assignments
panel: every assignment the workspace holds is released into the exchange, so the panel lists it
as already fetched and its Submit button hands it in. The mentor's starts in course/ (the
formgrader finds the course only there, or with CourseDirectory.root set: both are done), where
`nbgrader collect` and `shifu grade` pick the submissions up. Rule source for the paths and the
exchange layout: nbgrader 0.9.6, nbgrader/exchange/default/*.py and /work/shared/nbgrader-notes.md.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from shifu.content import paths
from shifu.content.errors import Problem, ShifuError, display_path
from shifu.course import layout
from shifu.content.paths import ensure_venv_on_path
from shifu.grading.nbgrader_course import error_tail, load_config

Role = Literal["trainee", "mentor"]
ROLES: tuple[Role, ...] = ("trainee", "mentor")

# nbgrader's server extensions and lab plugins that belong to the mentor (names from nbgrader 0.9.6's
# jupyter-config/ and its labextension's package.json); the Assignments panel stays on.
MENTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
MENTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:create-assignment")
# nbgrader's Validate button says "Success! Your notebook passes all the tests." in English for an empty
# role-play or an untouched module (issue 12); trainees use the notebook's Chinese 提交前检查 cell instead.
TRAINEE_HIDDEN_PLUGINS = MENTOR_LAB_PLUGINS + ("@jupyter/nbgrader:validate-assignment",)
# JupyterLab's display language; needs the jupyterlab-language-pack-zh-CN package (a dependency).
LOCALE = "zh_CN"


def state_dir() -> Path:
    """SHIFU_LAB_STATE, else .shifu/lab/ at the project root: where `shifu lab` keeps what it generates."""
    env = os.environ.get("SHIFU_LAB_STATE")
    return Path(env).expanduser().resolve() if env else paths.project_root() / ".shifu" / "lab"


def course_id(course: Path) -> str:
    """The course id nbgrader files submissions under (course/nbgrader_config.py; "shifu" when unset)."""
    cfg = load_config(course)
    return str(cfg.CourseDirectory.get("course_id") or "shifu")


@dataclass(frozen=True)
class LabState:
    """The folders one `shifu lab` uses; all absolute."""

    root: Path
    course: Path

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def config_dir(self, role: Role) -> Path:
        return self.root / "jupyter" / role

    def settings_dir(self, role: Role) -> Path:
        """JupyterLab's app_settings_dir for the role: defaults (overrides.json) a user may still change."""
        return self.config_dir(role) / "lab-settings"


def lab_overrides(start_page: str | None = None) -> dict:
    """JupyterLab setting defaults for both roles (the user's own choices, saved in ~/.jupyter, still win)."""
    overrides: dict = {"@jupyterlab/translation-extension:plugin": {"locale": LOCALE},
                       # offline first: no news feed, no update check, no English pop-up asking about them
                       "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
    if start_page:
        # the start page is Markdown: open it rendered, not in the text editor
        overrides["@jupyterlab/docmanager-extension:plugin"] = {"defaultViewers": {"markdown": "Markdown Preview"}}
    return overrides


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_role_config(state: LabState, role: Role, cid: str, trainee: str | None = None,
                      start_page: str | None = None, hide: list[str] | None = None) -> Path:
    """Write one role's settings folder (layout in the module docstring); return it.

    trainee: the student id submissions are filed under (None: nbgrader's default, the Unix user).
    start_page: a file in the workspace the trainee's JupyterLab opens rendered (Markdown).
    hide: names the trainee's file browser leaves out (folders shown through numbered links instead).
    """
    d = state.config_dir(role)
    lines = ["# Written by `shifu lab` on every start; edit course/nbgrader_config.py instead.",
             "c = get_config()  # noqa: F821",
             f"c.CourseDirectory.course_id = {cid!r}",
             f"c.Exchange.root = {str(state.exchange)!r}",
             f"c.Exchange.cache = {str(state.cache)!r}"]
    server: dict = {"LabApp": {"app_settings_dir": str(state.settings_dir(role))}}
    disabled: dict[str, bool] = {}
    if role == "mentor":
        lines.append(f"c.CourseDirectory.root = {str(state.course)!r}")
        server["ServerApp"] = {"jpserver_extensions": {name: True for name in MENTOR_SERVER_EXTENSIONS}}
        from shifu.grading.safe_html import MENTOR_SERVER_CONFIG

        server.update(MENTOR_SERVER_CONFIG)  # a trainee's markup runs nothing in the mentor's formgrader
    else:
        if trainee:
            lines.append(f"c.CourseDirectory.student_id = {trainee!r}")
        server["ServerApp"] = {"jpserver_extensions": {name: False for name in MENTOR_SERVER_EXTENSIONS}}
        if hide:
            from jupyter_server.services.contents.manager import ContentsManager

            default = list(ContentsManager().hide_globs)  # jupyter_server's own list, kept
            server["ContentsManager"] = {"hide_globs": default + [g for g in hide if g not in default]}
        disabled = {name: True for name in TRAINEE_HIDDEN_PLUGINS}
    _write(d / "nbgrader_config.py", "\n".join(lines) + "\n")
    _write(d / "jupyter_server_config.json", json.dumps(server, indent=1))
    _write(d / "labconfig" / "page_config.json", json.dumps({"disabledExtensions": disabled}, indent=1))
    _write(state.settings_dir(role) / "overrides.json",
           json.dumps(lab_overrides(start_page if role == "trainee" else None), indent=1, ensure_ascii=False))
    return d


def exchange_api(state: LabState, cid: str):  # -> nbgrader.apps.NbGraderAPI
    """nbgrader's API for the course, pointed at this lab's exchange (what the mentor's formgrader uses)."""
    ensure_venv_on_path()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(state.course)
    config.CourseDirectory.course_id = cid
    config.Exchange.root = str(state.exchange)
    config.Exchange.cache = str(state.cache)
    config.NbGraderAPI.log_level = logging.WARNING
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def released(state: LabState, cid: str) -> set[str]:
    """Assignments already in the exchange's outbound folder."""
    outbound = state.exchange / cid / "outbound"
    return {p.name for p in outbound.iterdir() if p.is_dir()} if outbound.is_dir() else set()


def release_to_exchange(state: LabState, cid: str, assignments: list[str], refresh: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Release each assignment into the exchange (nbgrader's release_assignment); return the ones it failed.

    An assignment already released is left alone unless it is in `refresh` (its release was rebuilt):
    then it is released again so a trainee who fetches gets the new version. Submissions already in
    the exchange are never touched. Failures come back as "assignment: nbgrader's reason".
    """
    state.exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(state.exchange, 0o777)  # nbgrader wants its exchange root world-writable (it checks, and warns)
    api = exchange_api(state, cid)
    have = released(state, cid)
    failed = []
    for name in assignments:
        if not (layout.release_dir(state.course) / name).is_dir():
            continue
        if name in have and name not in refresh:
            continue
        api.config.ExchangeReleaseAssignment.force = name in have  # read by the exchange object each call makes
        result = api.release_assignment(name)
        if not result.get("success"):
            failed.append(f"{name}: {error_tail(result, 2)}")
    return failed


def link_in_course_order(workspace: Path, assignments: list[str]) -> list[str]:
    """Numbered links "01-m00_orientation" … "12-lab5_retention" to the workspace's assignment folders.

    JupyterLab's file browser sorts by name only (lab1… before m00…), and the folders must keep their
    nbgrader names for the Assignments panel to submit them; so the trainee's file browser shows these
    links, in course order (shifu.course.layout.ASSIGNMENTS), and hides the real folders (the names
    returned, for ContentsManager.hide_globs). A system without symlinks keeps the plain folders.
    """
    present = [a for a in assignments if (workspace / a).is_dir() and not (workspace / a).is_symlink()]
    hidden = []
    for i, name in enumerate(present, start=1):
        link = workspace / f"{i:02d}-{name}"
        if not link.is_symlink():
            if link.exists():
                continue  # something of the trainee's own has this name: leave both visible
            try:
                os.symlink(name, link, target_is_directory=True)  # relative: the workspace can move
            except OSError:
                return []
        elif os.readlink(link) != name:
            continue  # an older link to another folder (the course order changed): left as it is
        hidden.append(name)
    return hidden


@dataclass
class Launch:
    """How to start one role's JupyterLab: its folder, environment additions and first page."""

    role: Role
    root_dir: Path
    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    default_url: str = "/lab"
    notes: list[str] = field(default_factory=list)  # warnings for the terminal


def prepare_lab(role: Role = "trainee", state: LabState | None = None, trainee: str | None = None) -> Launch:
    """Everything one role's JupyterLab needs: workspace or course, exchange, settings folder.

    Raises ShifuError when the course cannot be found. Assignments whose release cannot be built or
    released are left out with a note; the rest still opens.
    """
    from shifu.course.workspace import start_page, sync_workspace, workspace_dir

    course = paths.course_dir().resolve()
    if not (course / "nbgrader_config.py").is_file():
        raise ShifuError([Problem(display_path(course / "nbgrader_config.py"), "(file)", "is missing",
                                  "run `shifu lab` from the project folder, or set SHIFU_HOME to it")])
    state = state or LabState(state_dir(), course)
    cid = course_id(course)
    trainee = trainee or os.environ.get("SHIFU_TRAINEE") or None
    notes: list[str] = []
    ws = sync_workspace(course, workspace_dir())
    notes += [f"not in the workspace, its release could not be built: {line} — fix: run `shifu course check`"
              for line in ws.not_built]
    failed = release_to_exchange(state, cid, layout.source_assignments(course), refresh=set(ws.built))
    notes += [f"not released to the exchange (the Assignments panel will not list it): {line}" for line in failed]
    start = start_page(course)
    start = start if start and (ws.root / start).is_file() else None
    hide = link_in_course_order(ws.root, layout.source_assignments(course))
    for r in ROLES:
        write_role_config(state, r, cid, trainee=trainee, start_page=start, hide=hide)
    root = ws.root if role == "trainee" else course
    default_url = f"/lab/tree/{quote(start)}" if (role == "trainee" and start) else "/lab"
    env = {"JUPYTER_CONFIG_PATH": os.pathsep.join(
        [str(state.config_dir(role))] + [p for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])}
    return Launch(role, root, state.config_dir(role), env, default_url, notes)


# ---------------------------------------------------------------- starting JupyterLab

def is_headless() -> bool:
    """CI, or no display and nobody at the terminal: starting a server that never returns would hang the caller."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return True
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("darwin", "win32")
    return not has_display and not sys.stdin.isatty()


def lab_command(root_dir: Path, port: int, open_browser: bool, default_url: str = "/lab") -> list[str]:
    """The jupyter-lab command line for a folder, on 127.0.0.1:port, opening default_url first."""
    jupyter = shutil.which("jupyter-lab") or str(Path(sys.executable).parent / "jupyter-lab")
    cmd = [jupyter, f"--ServerApp.root_dir={root_dir}", f"--port={port}", "--ServerApp.ip=127.0.0.1"]
    if default_url != "/lab":
        cmd.append(f"--LabApp.default_url={default_url}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root; JupyterLab refuses root without it
    return cmd


def serve_lab(launch: Launch, port: int) -> int:
    """Run the role's JupyterLab (a browser opens on its first page) until it stops, e.g. on Ctrl-C; its exit code."""
    return subprocess.call(lab_command(launch.root_dir, port, open_browser=True, default_url=launch.default_url),
                           env=paths.venv_env(**launch.env))


def smoke_check(root_dir: Path, port: int, timeout: float = 90.0, extra_env: dict[str, str] | None = None) -> str:
    """Start JupyterLab, wait until /lab answers, stop it; return the URL it answered on.

    timeout: seconds for JupyterLab to print its URL and answer there. Raises ShifuError when it does not.
    """
    env = paths.venv_env(**(extra_env or {}))
    proc = subprocess.Popen(lab_command(root_dir, port, open_browser=False), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    url = ""
    deadline = time.monotonic() + timeout
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.search(r"(http://127\.0\.0\.1:\d+/lab\?token=\w+)", line)
            if m:
                url = m.group(1)
                break
            if time.monotonic() > deadline:
                break
        if not url:
            raise ShifuError(f"JupyterLab did not start within {timeout:.0f} s — fix: run `jupyter lab` by hand to see why")
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    if resp.status == 200:
                        return url.split("?")[0]
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ShifuError(f"JupyterLab printed {url.split('?')[0]} but did not answer there")
            time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
