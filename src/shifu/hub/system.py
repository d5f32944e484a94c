"""What the hub needs from the machine: Unix users, folders with the right owners, a PostgreSQL server.

Isolation is Unix's own: every roster user is a Unix user whose home is 0700, so no trainee can read
another's files; the course (solutions, hidden tests, reference transcripts) and the PostgreSQL
socket belong to the mentors' group; the role-play service's transcripts belong to the service's
own user (0700). All of it needs root (the hub starts each user's server as that user).
"""
from __future__ import annotations

import glob
import grp
import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shifu.content.errors import ShifuError
from shifu.hub.roster import Roster

MENTORS_GROUP = "shifu-mentors"
TRAINEES_GROUP = "shifu-trainees"
SERVICE_USER = "shifu-roleplay"


def require_root() -> None:
    if os.geteuid() != 0:
        raise ShifuError("the hub needs root: it creates a Unix user per trainee and starts each user's server as that user "
                         "— fix: run `sudo make hub` (or `sudo .venv/bin/shifu hub up`)")


def _run(cmd: list[str], what: str, input_text: str | None = None, timeout: float = 120) -> str:
    try:
        done = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ShifuError(f"{what}: `{cmd[0]}` is not installed — fix: install it (Debian: the `passwd`/`postgresql` packages)") from None
    if done.returncode != 0:
        raise ShifuError(f"{what} failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_group(name: str) -> None:
    if not group_exists(name):
        _run(["groupadd", "--system", name], f"creating group {name}")


def ensure_system_user(name: str) -> None:
    """A user with no login and no home: the role-play service runs as it."""
    if not user_exists(name):
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], f"creating user {name}")


def ensure_users(roster: Roster, home_base: Path | None = None) -> dict[str, str]:
    """Create the roster's Unix users (home 0700, groups by role); return {name: password} for new ones.

    A user who already exists keeps their password; their groups are brought in line with the roster.
    """
    ensure_group(MENTORS_GROUP)
    ensure_group(TRAINEES_GROUP)
    created: dict[str, str] = {}
    for m in roster.users:
        group = TRAINEES_GROUP if m.role == "trainee" else MENTORS_GROUP
        if not user_exists(m.name):
            cmd = ["useradd", "--create-home", "--shell", "/bin/bash", "--groups", group]
            if home_base is not None:
                cmd += ["--home-dir", str(home_base / m.name)]
            _run([*cmd, m.name], f"creating user {m.name}")
            password = secrets.token_urlsafe(12)
            _run(["chpasswd"], f"setting the password of {m.name}", input_text=f"{m.name}:{password}\n")
            created[m.name] = password
        else:
            _run(["usermod", "--append", "--groups", group, m.name], f"adding {m.name} to {group}")
        # Home directories are private whatever the distribution's default (Debian's is 0755).
        os.chmod(pwd.getpwnam(m.name).pw_dir, 0o700)
    return created


def remove_users(names: list[str]) -> None:
    """Delete Unix users and their homes (used by tests and `shifu hub down --remove-users`)."""
    for name in names:
        if user_exists(name):
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", "--remove", name], capture_output=True)


def private_dir(path: Path, owner: str, group: str = "root", mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, owner, group)
    os.chmod(path, mode)
    return path


def chown_tree(path: Path, owner: str, group: str, dir_mode: int = 0o2770, file_mode: int = 0o660) -> None:
    for root, dirs, files in os.walk(path):
        shutil.chown(root, owner, group)
        os.chmod(root, dir_mode)
        for f in files:
            p = os.path.join(root, f)
            shutil.chown(p, owner, group)
            os.chmod(p, file_mode)


# -- PostgreSQL: the gradebook ---------------------------------------------------------------
def pg_bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise ShifuError("PostgreSQL's server programs are not installed — fix: `apt-get install postgresql` "
                         "(the hub keeps its gradebook in PostgreSQL; `make lab` needs none)")
    return Path(candidates[-1]).parent


@dataclass(frozen=True)
class Postgres:
    """A PostgreSQL server of the hub's own: data under <state>/pg, a Unix socket only the mentors' group reaches."""

    state: Path
    port: int

    @property
    def data(self) -> Path:
        return self.state / "pg" / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state / "pg" / "run"

    def url(self, database: str = "shifu") -> str:
        return f"postgresql+psycopg2://shifu@/{database}?host={self.socket_dir}&port={self.port}"

    def _as_postgres(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd]

    def start(self) -> str:
        """Initialise (once) and start the server; create the gradebook database; return its URL."""
        if not user_exists("postgres"):
            raise ShifuError("there is no `postgres` system user to run the gradebook server — fix: `apt-get install postgresql`")
        binp = pg_bindir()
        private_dir(self.state / "pg", "postgres", "postgres", 0o755)
        # The socket folder: the server writes it, mentors (and root) may enter it, trainees may not.
        private_dir(self.socket_dir, "postgres", MENTORS_GROUP, 0o750)
        if not (self.data / "PG_VERSION").exists():
            private_dir(self.data, "postgres", "postgres", 0o700)
            _run(self._as_postgres([str(binp / "initdb"), "-D", str(self.data), "-U", "shifu", "--auth=trust", "-E", "UTF8"]),
                 "initialising the gradebook database")
        # No TCP; the socket's folder (postgres:shifu-mentors 0750) is what keeps trainees out.
        opts = f"-k {self.socket_dir} -c listen_addresses='' -p {self.port}"
        _run(self._as_postgres([str(binp / "pg_ctl"), "-D", str(self.data), "-l", str(self.state / "pg" / "server.log"),
                                "-w", "-t", "120", "-o", opts, "start"]), "starting PostgreSQL")
        listed = _run([str(binp / "psql"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", "shifu", "-d", "postgres",
                       "-tAc", "SELECT 1 FROM pg_database WHERE datname='shifu'"], "looking for the gradebook database")
        if listed.strip() != "1":
            _run([str(binp / "createdb"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", "shifu", "shifu"],
                 "creating the gradebook database")
        return self.url()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._as_postgres([str(pg_bindir() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                           capture_output=True, timeout=120)


# -- a Python every user can run --------------------------------------------------------------
def reachable_by_others(path: Path) -> bool:
    """Can a user other than the owner execute `path`? (every folder above it must be o+x)"""
    real = Path(os.path.realpath(path))
    for p in [*reversed(real.parents), real]:
        if not os.stat(p).st_mode & 0o001:
            return False
    return True


def runtime_venv(state: Path, python: Path) -> tuple[Path, dict[str, str]]:
    """The environment users' servers and the service run in: (its bin folder, environment it needs).

    Normally the project's own .venv. When its Python is where other users cannot reach it (pyenv
    under /root, which is 0700), the same interpreter build is copied to <state>/python (its standard
    library, not its site-packages) and a venv made from the copy: its site-packages adds the
    project's as a site folder (a .pth line, so the project's own .pth files count), its scripts are the project's with the copy's Python in their first line.
    The very same build matters: another patch release of the same Python can break installed packages.
    """
    import sys

    venv_bin = python.parent
    if reachable_by_others(python):
        return venv_bin, {}
    base = Path(os.path.realpath(sys.base_prefix))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    copy, twin = state / "python", state / "runtime"
    env = {"LD_LIBRARY_PATH": str(copy / "lib")}  # a shared-library build's RUNPATH names the private folder
    if not (copy / "bin" / f"python{version}").exists():
        shutil.copytree(base, copy, symlinks=True, ignore=shutil.ignore_patterns("site-packages", "test", "tests", "idle_test"))
        (copy / "lib" / f"python{version}" / "site-packages").mkdir(exist_ok=True)
    if not (twin / "bin" / "python").exists():
        done = subprocess.run([str(copy / "bin" / f"python{version}"), "-m", "venv", "--without-pip", str(twin)],
                              capture_output=True, text=True, env=dict(os.environ, **env))
        if done.returncode != 0:
            raise ShifuError(f"{python} cannot be run by other users and a copy of it did not work: {done.stderr[-300:]} "
                             f"— fix: build .venv from a Python every user can run, e.g. `make clean && make hub PYTHON=/usr/bin/python3`")
    import sysconfig

    twin_site = twin / "lib" / f"python{version}" / "site-packages"
    # addsitedir, not a bare path: the project's own .pth files (its editable install of src/) must be read too
    purelib = sysconfig.get_paths()["purelib"]
    (twin_site / "shifu-project-venv.pth").write_text(f"import site; site.addsitedir({purelib!r})\n", encoding="utf-8")
    shebangs = {f"#!{venv_bin}/python", f"#!{venv_bin}/python3", f"#!{venv_bin}/python{version}"}
    for script in venv_bin.iterdir():
        target = twin / "bin" / script.name
        if not script.is_file() or script.name.startswith("python") or script.name.startswith("activate"):
            continue
        try:
            text = script.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        first, _, rest = text.partition("\n")
        if first.split()[0:1] and first.split()[0] in shebangs:
            target.write_text(f"#!{twin}/bin/python\n{rest}", encoding="utf-8")
            os.chmod(target, 0o755)
    # Jupyter finds server and lab extensions under sys.prefix (etc/jupyter, share/jupyter): share the project's.
    for sub in ("etc", "share"):
        link = twin / sub
        if not link.exists() and (venv_bin.parent / sub).is_dir():
            link.symlink_to(venv_bin.parent / sub)
    for folder in (copy, twin):
        for root, dirs, files in os.walk(folder):
            os.chmod(root, 0o755)
    return twin / "bin", env
