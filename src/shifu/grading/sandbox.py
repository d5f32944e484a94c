"""The box a trainee's notebook runs in while it is graded.

Trainee code is hostile (a trainee may want a higher grade, a classmate's lower one, or the
mentor's API key). Every grading kernel is started through `Sandbox.wrap`, which puts the kernel
command inside bubblewrap (`bwrap`, Debian package `bubblewrap`, unprivileged through user
namespaces):

- filesystem: an empty root (tmpfs) with read-only binds of the runtime only: /usr, the system
  libraries, a handful of /etc files, the Python installation and virtualenv, the `shifu` package
  and the project's read-only content (grader/, scenarios/, data/). The kernel's working directory
  is a private copy of its own autograded folder without any notebook (the autograded notebook
  holds the hidden tests). Nothing else of the course exists in there: no source/, release/,
  gradebook, other trainees, feedback, reference transcripts.
- the kernel's own folder (connection file and the IPC sockets the grader talks to it through) is
  the only other writable bind; each kernel has a folder of its own, so no kernel can reach
  another's sockets.
- no network (--unshare-net: loopback only), own PID, IPC, UTS and cgroup namespaces, no
  capabilities; --die-with-parent and a private PID namespace, so everything the notebook started
  (start_new_session included) dies with the kernel.
- environment: emptied (--clearenv), then an allowlist (PATH, HOME in the box, LANG, PYTHONPATH of
  bound folders, thread counts); no KEY/TOKEN/SECRET/PASSWORD ever reaches the box.
- rlimits through util-linux `prlimit`: address space, CPU seconds, processes, file size. The
  kernel does not apply RLIMIT_NPROC to processes of the host's root user, so when root grades,
  each kernel also gets a `pids` cgroup of its own (v1 or v2, where one can be made) with the
  same process limit.

Fallback without bwrap (or with user namespaces disabled): when running as root, the kernel runs
as an unprivileged user (`nobody`, via setpriv) with the same environment, rlimits and private
working copy — weaker, because world-readable files stay readable. Otherwise grading is refused
unless the mentor passes --no-sandbox, which runs kernels as plain processes (unsafe).
"""
from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from shifu.content.errors import Problem, ShifuError
from shifu.grading.limits import SandboxLimits

BWRAP = "bwrap"
USER = "user"   # fallback: another Unix user + rlimits
NONE = "none"   # --no-sandbox

HOME = "/home/trainee"
FALLBACK_USER = "nobody"

# /etc entries the runtime needs (dynamic linker, time zone, locale, users, fonts, TLS roots); the
# rest of /etc (shadow, ssh keys, mentor configuration) stays outside
ETC = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "locale.alias", "passwd", "group",
       "nsswitch.conf", "fonts", "alternatives", "mime.types", "ssl/certs", "matplotlibrc"]
SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
# variables copied from the grader's environment when set; everything else is left out
PASS_ENV = ["LANG", "LC_ALL", "LC_CTYPE", "TZ", "LD_LIBRARY_PATH"]  # the hub's copied Python needs its library folder
FIXED_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
             "NUMEXPR_MAX_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
             "PYDEVD_DISABLE_FILE_VALIDATION": "1", "NBGRADER_EXECUTION": "autograde"}


class SandboxUnavailable(ShifuError):
    """Neither bwrap nor the user fallback can run here, and --no-sandbox was not given."""


@dataclass
class Sandbox:
    """How grading kernels are confined; `mode` is BWRAP, USER or NONE."""

    mode: str
    limits: SandboxLimits
    readonly: tuple[Path, ...] = ()       # content folders bound read-only at their own paths
    pythonpath: tuple[str, ...] = ()      # sys.path entries the kernel needs (bound read-only too)

    def environment(self, workdir: str) -> dict[str, str]:
        """The kernel's whole environment: an allowlist, nothing inherited by default."""
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.setdefault("LANG", "C.UTF-8")
        bindir = str(Path(sys.executable).parent)
        env.update(FIXED_ENV)
        env.update(PATH=os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
                   HOME=HOME if self.mode == BWRAP else workdir, TMPDIR="/tmp" if self.mode == BWRAP else workdir,
                   MPLCONFIGDIR=(HOME if self.mode == BWRAP else workdir) + "/.matplotlib",
                   IPYTHONDIR=(HOME if self.mode == BWRAP else workdir) + "/.ipython")
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(self.pythonpath)
        project = os.environ.get("SHIFU_HOME")
        if project and any(Path(project).resolve() == p.parent for p in self.readonly):
            env["SHIFU_HOME"] = project
        return env

    def wrap(self, cmd: list[str], kernel_dir: str, workdir: str, inside: str,
             pids_group: Path | None = None) -> list[str]:
        """CMD (the kernel command) as run in the box.

        kernel_dir: the kernel's own folder (connection file, sockets), bound at its own path.
        workdir: the private copy of the submission, seen inside as INSIDE (the working directory).
        pids_group: a cgroup (from `pids_group`) the whole box is moved into before it starts.
        """
        limited = self._prlimit() + ["--", *cmd]
        if self.mode == NONE:
            return cmd
        if pids_group is not None:
            # join the cgroup first, then become the box: everything it starts is counted there
            return ["/bin/sh", "-c", 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', "sh", str(pids_group),
                    *self._wrap(limited, kernel_dir, workdir, inside)]
        return self._wrap(limited, kernel_dir, workdir, inside)

    def pids_group(self, name: str) -> Path | None:
        """A fresh cgroup limiting the number of processes to limits.processes; None where none can be made
        (not root, no pids controller) — then only RLIMIT_NPROC applies."""
        if self.mode == NONE or not self.limits.processes or os.geteuid() != 0:
            return None
        for parent in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
            if not (parent / "cgroup.procs").exists() or not os.access(parent, os.W_OK):
                continue
            group = parent / "shifu-grading" / name
            try:
                group.mkdir(parents=True, exist_ok=True)
                (group / "pids.max").write_text(str(self.limits.processes))
                return group
            except OSError:
                with contextlib.suppress(OSError):
                    group.rmdir()
        return None

    def _wrap(self, limited: list[str], kernel_dir: str, workdir: str, inside: str) -> list[str]:
        env = self.environment(inside if self.mode == BWRAP else workdir)
        if self.mode == USER:
            return ["/usr/bin/env", "-i", "-C", workdir, *[f"{k}={v}" for k, v in env.items()],
                    shutil.which("setpriv") or "setpriv", f"--reuid={FALLBACK_USER}", f"--regid={_nogroup()}",
                    "--clear-groups", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", *limited]
        args = [_bwrap(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--clearenv", "--tmpfs", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--dir", HOME]
        for path in SYSTEM:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for name in ETC:
            path = f"/etc/{name}"
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        for path in self._runtime():
            args += ["--ro-bind", path, path]
        args += ["--bind", kernel_dir, kernel_dir, "--bind", workdir, inside, "--chdir", inside]
        for key, value in env.items():
            args += ["--setenv", key, value]
        return args + ["--", *limited]

    def prepare_workdir(self, workdir: str) -> None:
        """Let the fallback user own its private copy (bwrap maps the owner itself)."""
        if self.mode != USER:
            return
        uid, gid = pwd.getpwnam(FALLBACK_USER).pw_uid, _nogroup_id()
        for root, dirs, files in os.walk(workdir):
            os.chown(root, uid, gid)
            for name in files:
                os.chown(os.path.join(root, name), uid, gid)

    def _prlimit(self) -> list[str]:
        lim = self.limits
        out = [shutil.which("prlimit") or "/usr/bin/prlimit"]
        if lim.memory_bytes:
            out.append(f"--as={lim.memory_bytes}")
        if lim.cpu_seconds:
            out.append(f"--cpu={lim.cpu_seconds}")
        if lim.processes:
            out.append(f"--nproc={lim.processes}")
        if lim.file_bytes:
            out.append(f"--fsize={lim.file_bytes}")
        return out

    def _runtime(self) -> list[str]:
        """The Python installation, the virtualenv and the project's read-only content."""
        paths = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
                 os.path.realpath(sys.exec_prefix), os.path.dirname(os.path.realpath(sys.executable))}
        paths |= {os.path.realpath(p) for p in self.pythonpath}
        paths |= {str(p) for p in self.readonly}
        paths = {p for p in paths if os.path.exists(p) and not _under_system(p)}
        # a folder inside another bound one needs no bind of its own
        return sorted(p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths))


def _under_system(path: str) -> bool:
    return any(path == s or path.startswith(s + os.sep) for s in SYSTEM)


def _bwrap() -> str:
    return shutil.which("bwrap") or "/usr/bin/bwrap"


def _nogroup() -> str:
    import grp

    for name in ("nogroup", "nobody"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            continue
    return str(pwd.getpwnam(FALLBACK_USER).pw_gid)


def _nogroup_id() -> int:
    import grp

    name = _nogroup()
    return int(name) if name.isdigit() else grp.getgrnam(name).gr_gid


@functools.lru_cache(maxsize=1)
def bwrap_works() -> tuple[bool, str]:
    """Whether bubblewrap can build a box here (it is installed and user namespaces are allowed)."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bubblewrap is not installed"
    try:
        proc = subprocess.run([exe, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap could not run: {exc}"
    if proc.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {proc.stderr.strip()[:200]}"
    return True, ""


@functools.lru_cache(maxsize=1)
def _user_fallback_works() -> bool:
    """Root can run kernels as FALLBACK_USER, and that user can run this Python (not the case when it
    lives in root's home, e.g. a pyenv under /root)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return False
    try:
        pwd.getpwnam(FALLBACK_USER)
    except KeyError:
        return False
    import tempfile

    box = Sandbox(USER, SandboxLimits())
    with tempfile.TemporaryDirectory(prefix="shifu-probe-") as work:
        box.prepare_workdir(work)
        cmd = box.wrap([sys.executable, "-c", "import ipykernel"], work, work, work)
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=120, cwd="/")
        except (OSError, subprocess.TimeoutExpired):
            return False
    return proc.returncode == 0


def project_content() -> tuple[Path, ...]:
    """Read-only project folders a grading kernel may read: grader/, scenarios/, data/ — never course/."""
    from shifu.content import paths

    root = paths.project_root()
    return tuple(p for p in (root / "grader", root / "scenarios", root / "data") if p.is_dir())


def package_path() -> tuple[str, ...]:
    """The sys.path entry holding the `shifu` package, so notebooks can import its helpers, and every
    site-packages folder on this process's path: a venv made from a copied interpreter (the hub's, for
    users who cannot reach pyenv under /root) finds the project's packages through a second site folder."""
    import shifu

    sites = [os.path.realpath(p) for p in sys.path if p and os.path.basename(p.rstrip(os.sep)) in ("site-packages", "dist-packages")
             and os.path.isdir(p)]
    found = [str(Path(shifu.__file__).resolve().parent.parent)]
    found += [p for p in sites if p not in found and not _under_system(p)]
    return tuple(found)


def choose(unsafe: bool = False, limits: SandboxLimits | None = None) -> Sandbox:
    """The strongest sandbox this machine allows; SandboxUnavailable when there is none and not UNSAFE."""
    limits = limits or SandboxLimits()
    if unsafe:
        return Sandbox(NONE, limits)
    ok, why = bwrap_works()
    if ok:
        return Sandbox(BWRAP, limits, project_content(), package_path())
    if _user_fallback_works():
        return Sandbox(USER, limits, project_content(), package_path())
    raise SandboxUnavailable([Problem("bwrap", "sandbox", f"cannot sandbox trainee notebooks: {why}",
                                      "install bubblewrap (`apt-get install bubblewrap`) and allow unprivileged user "
                                      "namespaces (sysctl kernel.unprivileged_userns_clone=1), or run as root with a "
                                      f"Python the user {FALLBACK_USER!r} can run, for the separate-user fallback; "
                                      "`shifu grade --no-sandbox` grades without any isolation "
                                      "(unsafe: trainee code then runs as you)")])


def remove_group(group: Path | None, tries: int = 5) -> None:
    """Remove a kernel's pids cgroup once its processes are gone (they die with the box); one still
    busy after TRIES is left for `remove_groups` at the end of the run."""
    if group is None:
        return
    for _ in range(tries):
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)



def remove_groups(prefix: str) -> None:
    """Remove the pids cgroups of a run (named PREFIX-*) that are still there, waiting up to 2 s each."""
    for parent in (Path("/sys/fs/cgroup/pids/shifu-grading"), Path("/sys/fs/cgroup/shifu-grading")):
        if parent.is_dir():
            for group in parent.glob(f"{prefix}-*"):
                remove_group(group, tries=100)


__all__ = ["Sandbox", "SandboxUnavailable", "choose", "bwrap_works", "BWRAP", "USER", "NONE", "HOME"]
