"""Bring the cohort up on one machine: users, course, exchange, gradebook, role-play service, JupyterHub.

Layout of the state folder (default /srv/shifu-hub):
  hub/          JupyterHub's database, cookie secret, log (root only)
  course/       the mentors' nbgrader course: sources, releases, submissions (group shifu-mentors, 2770)
  exchange/     nbgrader's exchange (1777; nbgrader sets each course folder's permissions)
  jupyter/<role>/  the Jupyter and nbgrader settings each role's servers read (JUPYTER_CONFIG_DIR)
  roleplay/     the role-play service's transcripts (its own user, 0700)
  pg/           the PostgreSQL gradebook (socket reachable by the mentors' group only)
  initial-passwords.txt   passwords of users created by this run (root only, 0600)
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shifu.content import paths
from shifu.content.errors import ShifuError
from shifu.course.labsetup import TRAINEE_HIDDEN_PLUGINS, lab_overrides
from shifu.grading.safe_html import MENTOR_SERVER_CONFIG
from shifu.hub import system
from shifu.hub.roster import Roster, load_roster

DEFAULT_STATE = Path("/srv/shifu-hub")


def proxy_command() -> Path:
    """configurable-http-proxy as installed from the npm registry by `make hub` (hub/package.json)."""
    found = paths.project_root() / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if found.exists():
        return found
    on_path = shutil.which("configurable-http-proxy")
    if on_path:
        return Path(on_path)
    raise ShifuError("configurable-http-proxy is not installed — fix: `npm ci --prefix hub` (or `make hub`, which does it); "
                     "it comes from the npm registry and needs Node.js ≥ 18")


@dataclass
class HubSettings:
    state: Path = DEFAULT_STATE
    ip: str = "127.0.0.1"
    port: int = 8000
    hub_port: int = 8081
    proxy_api_port: int = 8001
    service_port: int = 8090
    pg_port: int = 5433
    roster_path: Path | None = None
    assignments: list[str] | None = None  # releases to build; None: all

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.ip in ("0.0.0.0", "") else self.ip
        return f"http://{host}:{self.port}"


def _write_role_configs(state: Path, course: Path, exchange: Path, gradebook_url: str) -> None:
    common = f'c.CourseDirectory.course_id = "shifu"\nc.Exchange.root = {str(exchange)!r}\n'
    for role in ("trainee", "mentor"):
        d = state / "jupyter" / role
        (d / "labconfig").mkdir(parents=True, exist_ok=True)
        text = "c = get_config()  # noqa: F821\n" + common
        disabled: dict[str, bool] = {}
        # JupyterLab in Chinese, no news feed (the same defaults as `make lab`, shifu.course.labsetup)
        lab = {"LabApp": {"app_settings_dir": str(d / "lab-settings")}}
        server: dict[str, object] = {}
        if role == "mentor":
            text += f"c.CourseDirectory.root = {str(course)!r}\nc.CourseDirectory.db_url = {gradebook_url!r}\n"
            server = dict(MENTOR_SERVER_CONFIG)  # a trainee's markup runs nothing in the mentor's formgrader
        else:
            # Trainees see the Assignments panel only: no formgrader, no course list, no assignment authoring.
            server = {"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False,
                                                            "nbgrader.server_extensions.course_list": False}}}
            disabled = {name: True for name in TRAINEE_HIDDEN_PLUGINS}
        (d / "nbgrader_config.py").write_text(text, encoding="utf-8")
        (d / "jupyter_server_config.json").write_text(json.dumps({**server, **lab}, indent=1), encoding="utf-8")
        (d / "lab-settings").mkdir(exist_ok=True)
        (d / "lab-settings" / "overrides.json").write_text(json.dumps(lab_overrides(), indent=1), encoding="utf-8")
        (d / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}, indent=1),
                                                          encoding="utf-8")
        for root, dirs, files in os.walk(d):
            os.chmod(root, 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)


# What `make lab` and the demo generate inside course/: never part of the hub's copy.
_GENERATED = ("release", "submitted", "autograded", "feedback", "gradebook.db", "*.db", ".nbgrader.log",
              "__pycache__", ".ipynb_checkpoints")


def _copy_course(course: Path) -> None:
    """The mentors' copy of the course: its settings, sources and reference transcripts, never the trainees'.
    Copied once; later runs keep what mentors changed there."""
    src = paths.course_dir()
    if (course / "nbgrader_config.py").exists():
        return
    shutil.copytree(src, course, ignore=shutil.ignore_patterns(*_GENERATED), dirs_exist_ok=True)


def _restrict_repository_course() -> None:
    """Trainees are Unix users on this machine: the repository's course folders (authoring files and
    sources with solutions, hidden tests, reference transcripts, any local gradebook) must not be
    readable by them. The course's top-level settings (nbgrader_config.py, clock.yaml …) stay readable:
    every user's tools read them."""
    for child in paths.course_dir().iterdir():
        if child.is_dir() or child.suffix == ".db":
            mode = child.stat().st_mode
            if mode & 0o007:
                os.chmod(child, mode & ~0o007)


@dataclass
class Hub:
    settings: HubSettings
    roster: Roster
    proc: subprocess.Popen | None = None
    postgres: system.Postgres | None = None
    new_passwords: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def course(self) -> Path:
        return self.settings.state / "course"

    @property
    def log(self) -> Path:
        return self.settings.state / "hub" / "jupyterhub.log"

    def prepare(self) -> None:
        """Everything but starting the hub: users, folders, course, gradebook, settings."""
        t0 = time.perf_counter()
        system.require_root()
        st = self.settings
        chp = proxy_command()
        state = system.private_dir(st.state, "root", "root", 0o755)
        system.private_dir(state / "hub", "root", "root", 0o700)
        self.new_passwords = system.ensure_users(self.roster)
        if self.new_passwords:
            pw = state / "initial-passwords.txt"
            with open(pw, "a", encoding="utf-8") as fh:
                os.chmod(pw, 0o600)
                for name, password in self.new_passwords.items():
                    fh.write(f"{name}\t{password}\n")
        system.ensure_system_user(system.SERVICE_USER)
        system.private_dir(state / "roleplay", system.SERVICE_USER, system.SERVICE_USER, 0o700)
        exchange = system.private_dir(state / "exchange", "root", "root", 0o1777)
        self.timings["users"] = time.perf_counter() - t0
        self.postgres = system.Postgres(state, st.pg_port)
        gradebook = self.postgres.start()
        self.timings["postgres"] = time.perf_counter() - t0
        _copy_course(self.course)
        from shifu.course.build import build_course

        failed = [b for b in build_course(self.course, st.assignments, db_url=gradebook) if not b.ok]
        if failed:
            raise ShifuError(f"building the release of {failed[0].assignment} failed: {failed[0].error}")
        system.chown_tree(self.course, "root", system.MENTORS_GROUP)
        _restrict_repository_course()
        self.timings["course"] = time.perf_counter() - t0
        _write_role_configs(state, self.course, exchange, gradebook)
        venv_bin, runtime_env = system.runtime_venv(state, Path(sys.executable))
        settings = {
            "state": str(state), "ip": st.ip, "port": st.port, "hub_port": st.hub_port,
            "proxy_api_port": st.proxy_api_port, "service_port": st.service_port, "proxy_command": str(chp),
            "trainees": self.roster.trainees, "mentors": self.roster.mentors, "admins": self.roster.admins,
            "venv_bin": str(venv_bin), "python": str(venv_bin / "python"), "course": str(self.course),
            "gradebook_url": gradebook, "roleplay_url": f"{st.public_url}/services/roleplay/",
            "runtime_env": runtime_env, "service_user": system.SERVICE_USER, "service_data": str(state / "roleplay"),
        }
        (state / "hub" / "settings.json").write_text(json.dumps(settings, indent=1), encoding="utf-8")

    def start(self, timeout: float = 300.0) -> str:
        """Start JupyterHub (which starts the proxy and the role-play service); wait until both answer."""
        st = self.settings
        t0 = time.perf_counter()
        env = paths.venv_env(SHIFU_HUB_SETTINGS=str(st.state / "hub" / "settings.json"))
        config = Path(__file__).with_name("jupyterhub_config.py")
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)],
                                     cwd=st.state / "hub", env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        for what, url in (("JupyterHub", f"{st.public_url}/hub/health"),
                          ("the role-play service", f"{st.public_url}/services/roleplay/health")):
            self._wait(what, url, timeout)
        self.timings["hub"] = time.perf_counter() - t0
        return st.public_url

    def _wait(self, what: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ShifuError(f"JupyterHub stopped while starting (exit {self.proc.returncode}) — see {self.log}:\n"
                                 + self.log_tail())
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ShifuError(f"{what} did not answer at {url} within {timeout:.0f} s — see {self.log}:\n" + self.log_tail())
            time.sleep(1.0)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the hub (it stops the proxy, the service and every user's server), then PostgreSQL."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if self.postgres is not None:
            self.postgres.stop()


def make_hub(settings: HubSettings | None = None) -> Hub:
    settings = settings or HubSettings()
    return Hub(settings, load_roster(settings.roster_path))
