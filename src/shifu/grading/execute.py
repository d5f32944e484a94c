"""Run one notebook the way nbgrader's Execute preprocessor does, but as a coroutine.

nbgrader's Execute (an nbconvert ExecutePreprocessor, i.e. an nbclient NotebookClient) runs cells
with blocking calls, one notebook at a time. Here the same preprocessor object, configured the same
way, drives its kernel through nbclient's async API, so several notebooks run at once in one
process. The steps mirror ExecutePreprocessor.preprocess: fresh kernel per notebook, kernel_info
into metadata.language_info, every cell with store_history=True, widget state at the end.

The kernel is started ahead of need (`start`), then the cells run (`run`), then it is shut down.
Every kernel runs in a sandbox (see sandbox.py): its own folder for the connection file and IPC
sockets, a private copy of the submission folder without notebooks as its working directory.
A kernel that dies in a cell names that cell; the cells before it keep their outputs (and points).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Any

from nbclient.client import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_hook
from nbformat import NotebookNode
import zmq

from shifu.grading.judge import Judge, KernelGone
from shifu.grading.limits import IOPUB_TIMEOUT, OUTPUT_CELL_CHARS, OUTPUT_NOTEBOOK_CHARS, STARTUP_TIMEOUT
from shifu.grading.sandbox import HOME, Sandbox, remove_group

NOTEBOOK_TIMEOUT_ENAME = "NotebookTimeoutError"
KERNEL_DIED_ENAME = "KernelDiedError"
NOT_RUN_ENAME = "NotRunError"          # a cell after the one whose kernel died
NOT_RUN_ENAMES = {NOTEBOOK_TIMEOUT_ENAME, NOT_RUN_ENAME}
OUTPUT_LOST_ENAME = "OutputCutError"   # a graded cell whose output was cut for size: it scores 0
KEEP_WHEN_CUT = 2000                   # characters kept of an error, a value or a stderr past the budget


class InfrastructureError(Exception):
    """The machine, not the notebook, failed: the kernel did not start or its output got lost."""


@dataclass
class Outcome:
    """What happened while the cells ran (the scores come later, from nbgrader)."""

    timed_out_cells: list[int] = field(default_factory=list)   # cell indices interrupted by the cell timeout
    notebook_timed_out: bool = False
    died_at: int | None = None        # index of the cell during which the kernel died
    seconds: float = 0.0
    truncated_cells: list[int] = field(default_factory=list)  # cells whose output went past the budget


class OutputBudget:
    """What one notebook's kernel may send back that the grader keeps (limits.OUTPUT_*_CHARS).

    Installed over the preprocessor's `output` (nbclient calls it once per output message): a message
    that fits is kept as nbclient keeps it; past the cell's or the notebook's budget a stream keeps its
    head and anything else is dropped, so a flood never accumulates in the grader. The first cut in a
    cell adds a note (grader/grading.yaml kernel.output_truncated) as a display output, which nbgrader's
    LimitOutput leaves alone and which never counts as an error. Counting is of what was sent, so
    clearing the output does not buy more room.
    """

    def __init__(self, ep: Any, cell_chars: int = OUTPUT_CELL_CHARS, notebook_chars: int = OUTPUT_NOTEBOOK_CHARS):
        self.cell_chars, self.notebook_chars = cell_chars, notebook_chars
        self.sent: dict[int, int] = {}       # cell index → characters the kernel sent
        self.total = 0
        self.truncated: list[int] = []
        self._stderr: set[int] = set()       # cells whose first stderr past the budget was kept
        self._plain = ep.output
        ep.output = self.output

    def output(self, outs: list[NotebookNode], msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        content = msg.get("content") or {}
        size = _size(content)
        sent = self.sent.get(cell_index, 0)
        room = max(0, min(self.cell_chars - sent, self.notebook_chars - self.total))
        self.sent[cell_index] = sent + size
        if size <= room:
            self.total += size
            return self._plain(outs, msg, display_id, cell_index)
        self.cut(outs, cell_index)
        kind = msg.get("msg_type")
        # what decides points is never dropped, only shortened: an error, a cell's value, the first stderr
        # (nbgrader scores a test cell with any stderr 0, so dropping it would turn a failure into a pass)
        if kind == "stream" and isinstance(content.get("text"), str):
            keep = room or (KEEP_WHEN_CUT if content.get("name") == "stderr" and cell_index not in self._stderr
                            else 0)
            if content.get("name") == "stderr":
                self._stderr.add(cell_index)
            if not keep:
                return None
            content["text"] = content["text"][:keep]
        elif kind == "error":
            content["evalue"] = str(content.get("evalue", ""))[:KEEP_WHEN_CUT]
            content["traceback"] = [str(line)[:KEEP_WHEN_CUT] for line in (content.get("traceback") or [])[-5:]]
        elif kind == "execute_result":
            data = content.get("data") if isinstance(content.get("data"), dict) else {}
            content["data"] = {"text/plain": str(data.get("text/plain", ""))[:KEEP_WHEN_CUT]}
        else:
            return None
        self.total += _size(content)
        return self._plain(outs, msg, display_id, cell_index)

    def cut(self, outs: list[NotebookNode], cell_index: int) -> None:
        """Note, once per cell, that output of CELL_INDEX was dropped."""
        if cell_index in self.truncated:
            return
        from nbformat.v4 import new_output

        from shifu.grading.wording import grading_text

        self.truncated.append(cell_index)
        kept = min(self.cell_chars, self.sent.get(cell_index, 0))
        outs.append(new_output("display_data", data={"text/plain": grading_text().kernel.output_truncated.format(
            kept=f"{kept:,}")}))


def _size(content: dict) -> int:
    """Characters of an output message's payload (text, data values, traceback), counted without copying."""
    size = len(content.get("text") or "") if isinstance(content.get("text"), str) else 0
    data = content.get("data")
    if isinstance(data, dict):
        size += sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values())
    for line in content.get("traceback") or []:
        size += len(line) if isinstance(line, str) else 0
    return size


class KernelRun:
    """One notebook, one fresh kernel, one nbgrader Execute preprocessor instance."""

    def __init__(self, preprocessor: Any, nb: NotebookNode, resources: dict, kernel_log: IO[str] | None = None,
                 context: Any = None, socket_dir: str | None = None, sandbox: Sandbox | None = None,
                 judge: Judge | None = None):
        self.ep = preprocessor
        self.judge = judge   # evaluates the notebook's own test cells outside the kernel (judge.py)
        self.nb = nb
        self.resources = resources
        self.kernel_log = kernel_log
        self.context = context  # one zmq context for all kernels: a context per kernel blocks ~0.1 s on close
        # Unix sockets in a private folder: kernels started together over TCP can race for the same free port
        self.socket_dir = socket_dir if os.name == "posix" else None
        self.sandbox = sandbox
        self.kernel_dir: str | None = None   # this kernel's connection file and sockets (bound into its box)
        self.workdir: str | None = None      # the private copy of the submission folder
        self.pids_group: Any = None          # the cgroup counting the box's processes, where there is one
        self.started = False
        self.dropped = 0                     # times zmq cut the output channel (a message over MAX_MESSAGE_BYTES)
        self._monitor: Any = None
        self._handled = 0                    # disconnections already answered by _output_cut
        # a late output message on a loaded machine is not the trainee's fault: wait longer than nbclient's 4 s
        self.ep.iopub_timeout = max(int(self.ep.iopub_timeout or 0), IOPUB_TIMEOUT)
        self.ep.startup_timeout = max(int(self.ep.startup_timeout or 0), STARTUP_TIMEOUT)
        self.budget = OutputBudget(self.ep)

    async def start(self, attempts: int = 2) -> None:
        """Start the kernel and wait until it answers: the slow part, done before the notebook's turn.

        A kernel that dies while starting (before any trainee code ran) is started once more.
        """
        for attempt in range(attempts):
            try:
                await self._start_once()
                return
            except asyncio.CancelledError:
                await self.shutdown(now=True)
                raise
            except Exception as exc:
                await self.shutdown(now=True)
                if attempt == attempts - 1:
                    raise InfrastructureError(f"the kernel did not start ({type(exc).__name__}: "
                                              f"{str(exc).strip()[:120]})") from exc

    async def _start_once(self) -> None:
        ep = self.ep
        NotebookClient.__init__(ep, self.nb)          # as ExecutePreprocessor.preprocess does
        ep.reset_execution_trackers()
        ep._check_assign_resources(self.resources)
        self._make_folders()
        ep.km = self._kernel_manager()
        if self.sandbox is not None:
            env = self.sandbox.environment(self.workdir or "")
        else:
            env = dict(os.environ, NBGRADER_EXECUTION="autograde")  # what nbgrader's autograde sets
        kwargs: dict[str, Any] = {"env": env}
        if self.kernel_log is not None:
            kwargs["stdout"] = self.kernel_log
            kwargs["stderr"] = self.kernel_log
        await ep.async_start_new_kernel(**kwargs)
        await self._start_client()
        self.started = True

    def _kernel_manager(self) -> Any:
        """NotebookClient.create_kernel_manager, plus the shared zmq context."""
        ep = self.ep
        if not ep.kernel_name:
            name = self.nb.metadata.get("kernelspec", {}).get("name")
            if name is not None:
                ep.kernel_name = name
        kwargs: dict[str, Any] = {"config": ep.config}
        if ep.kernel_name:
            kwargs["kernel_name"] = ep.kernel_name
        if self.context is not None:
            kwargs["context"] = self.context
        if self.kernel_dir is not None:
            kwargs["transport"] = "ipc"
            kwargs["ip"] = os.path.join(self.kernel_dir, "k")
            kwargs["connection_file"] = os.path.join(self.kernel_dir, "kernel.json")
        km = ep.kernel_manager_class(**kwargs)
        if self.sandbox is not None and self.kernel_dir is not None:
            self._confine(km)
        return km

    def _make_folders(self) -> None:
        """The kernel's own socket folder, and a private copy of the submission folder without notebooks."""
        if self.socket_dir is None:
            return
        self._remove_folders()
        self.kernel_dir = tempfile.mkdtemp(prefix="", dir=self.socket_dir)
        if self.sandbox is None:
            return
        self.workdir = self.kernel_dir + "-w"
        source = self.resources.get("metadata", {}).get("path") or os.getcwd()
        # the autograded notebook holds the hidden tests: no notebook goes into the box
        shutil.copytree(source, self.workdir, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"),
                        symlinks=False, ignore_dangling_symlinks=True)
        self.sandbox.prepare_workdir(self.workdir)
        self.sandbox.prepare_workdir(self.kernel_dir)
        self.pids_group = self.sandbox.pids_group(os.path.basename(self.socket_dir) + "-" +
                                                  os.path.basename(self.kernel_dir))

    def _confine(self, km: Any) -> None:
        """Start KM's kernel through the sandbox, and interrupt it by message (a signal would hit bwrap)."""
        sandbox, kernel_dir, workdir = self.sandbox, self.kernel_dir, self.workdir
        assert sandbox is not None and kernel_dir is not None and workdir is not None
        inside = os.path.join(HOME, os.path.basename(os.path.normpath(
            self.resources.get("metadata", {}).get("path") or "work")))
        plain = km.format_kernel_cmd

        def format_kernel_cmd(extra_arguments: list[str] | None = None) -> list[str]:
            sandbox.prepare_workdir(kernel_dir)  # the connection file was just written
            return sandbox.wrap(_grading_kernel(plain(extra_arguments=extra_arguments)), kernel_dir, workdir, inside,
                                self.pids_group)
        km.format_kernel_cmd = format_kernel_cmd
        km.kernel_spec.interrupt_mode = "message"

    def _remove_folders(self) -> None:
        for folder in (self.kernel_dir, self.workdir):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        remove_group(self.pids_group)
        self.kernel_dir = self.workdir = self.pids_group = None

    async def _start_client(self) -> None:
        """NotebookClient.async_start_new_kernel_client, plus the shared zmq context."""
        ep = self.ep
        try:
            ep.kc = ep.km.client(**({"context": self.context} if self.context is not None else {}))
            await ensure_async(ep.kc.start_channels())
            await ensure_async(ep.kc.wait_for_ready(timeout=ep.startup_timeout))
        except Exception:
            await ep._async_cleanup_kernel()
            raise
        ep.kc.allow_stdin = False
        self._watch_output_channel()
        await run_hook(ep.on_notebook_start, notebook=ep.nb)

    def _watch_output_channel(self) -> None:
        """Watch the output (IOPub) channel for disconnections: zmq drops a connection whose next message is
        over MAX_MESSAGE_BYTES, unread. The kernel's output then stops coming, which `run` must tell apart
        from a machine too busy to deliver it (infrastructure): that one is the notebook's doing. The monitor
        is only read without waiting (`_channel_events`): a reader on it in the event loop stalled other kernels."""
        try:
            self._monitor = self.ep.kc.iopub_channel.socket.get_monitor_socket(
                zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        except (zmq.ZMQError, AttributeError):
            self._monitor = None

    async def _channel_events(self) -> None:
        """Count the disconnections the monitor recorded so far (reconnections are read and passed over)."""
        if self._monitor is None:
            return
        from zmq.utils.monitor import parse_monitor_message

        while True:
            try:
                frames = await self._monitor.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.ZMQError:   # zmq.Again: nothing more
                return
            if parse_monitor_message(frames)["event"] == zmq.EVENT_DISCONNECTED:
                self.dropped += 1

    async def run(self, notebook_timeout: float | None = None) -> Outcome:
        """Execute every cell; a notebook that runs past NOTEBOOK_TIMEOUT has its remaining cells marked as not run."""
        ep = self.ep
        outcome = Outcome()
        begin = time.monotonic()
        deadline = None if not notebook_timeout else begin + notebook_timeout
        cell_timeout = ep.timeout
        if deadline is not None:
            def timeout_func(cell: NotebookNode) -> float:
                left = max(0.1, deadline - time.monotonic())
                return left if not cell_timeout or cell_timeout < 0 else min(float(cell_timeout), left)
            ep.timeout_func = timeout_func
        if not self.started:
            await self.start()
        info = await ep.async_wait_for_reply(await ensure_async(ep.kc.kernel_info()))
        assert info is not None
        ep.nb.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(ep.nb.cells):
            if deadline is not None and time.monotonic() >= deadline:
                outcome.notebook_timed_out = True
                _mark_not_run(ep.nb.cells[index:], notebook_timeout)
                break
            if self.judge is not None and self.judge.takes(cell):
                try:
                    if await self.judge.run_cell(ep.kc, ep.km, cell, ep._get_timeout(cell)):
                        outcome.timed_out_cells.append(index)
                except KernelGone:
                    outcome.died_at = index
                    _mark_died(ep.nb.cells, index)
                    break
                await self._channel_events()
                if self.dropped > self._handled:
                    await self._output_cut(cell, index)
                continue
            try:
                await ep.async_execute_cell(cell, index, store_history=True)
            except DeadKernelError:
                outcome.died_at = index
                _mark_died(ep.nb.cells, index)
                break
            except CellTimeoutError as exc:
                await self._channel_events()
                if "IOPub" in str(exc) and self.dropped > self._handled:
                    # zmq cut the channel on a message too big to take in: the notebook's own output, not the machine
                    await self._output_cut(cell, index)
                    continue
                if "IOPub" in str(exc):  # the reply came, its output did not: lost in a busy machine
                    raise InfrastructureError(f"the output of cell {index + 1} was lost "
                                              f"(no message in {ep.iopub_timeout} s)") from exc
                raise
            timeout_ename = (ep.error_on_timeout or {}).get("ename", "CellTimeoutError")
            if cell.cell_type == "code" and any(o.get("output_type") == "error" and o.get("ename") == timeout_ename
                                                for o in cell.get("outputs", [])):
                outcome.timed_out_cells.append(index)
                if deadline is not None and time.monotonic() >= deadline:
                    outcome.notebook_timed_out = True
        if outcome.died_at is None:
            ep.set_widgets_metadata()
        outcome.truncated_cells = list(self.budget.truncated)
        outcome.seconds = time.monotonic() - begin
        return outcome

    async def _output_cut(self, cell: NotebookNode, index: int) -> None:
        """CELL's output was lost after zmq cut the channel on an oversized message: note it, and a graded
        cell gets an error (it scores 0: nothing it printed can be seen); then connect the channel again
        (zmq does not reconnect a peer it cut for an oversized message)."""
        self.budget.sent[index] = max(self.budget.sent.get(index, 0), self.budget.cell_chars)
        outputs = cell.setdefault("outputs", [])
        self.budget.cut(outputs, index)
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and \
                not any(o.get("output_type") == "error" for o in outputs):
            why = f"{_label(cell, index)}: its output was cut (a single message over the grader's size limit)"
            outputs.append(NotebookNode(output_type="error", ename=OUTPUT_LOST_ENAME, evalue=why,
                                        traceback=[f"{OUTPUT_LOST_ENAME}: {why}"]))
        kc = self.ep.kc
        socket, url = kc.iopub_channel.socket, kc._make_url("iopub")
        with contextlib.suppress(zmq.ZMQError):
            socket.disconnect(url)
        socket.connect(url)
        await asyncio.sleep(0.3)  # the subscription travels after the handshake
        await self._channel_events()
        self._handled = self.dropped

    async def shutdown(self, now: bool = False) -> None:
        """Stop the kernel; right away when it may be stuck (a timed-out cell), politely otherwise."""
        ep = self.ep
        if self._monitor is not None:
            with contextlib.suppress(Exception):
                ep.kc.iopub_channel.socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        if ep.km is None:
            self._remove_folders()
            return
        polite = ep.shutdown_kernel
        if now:
            ep.shutdown_kernel = "immediate"
        try:
            await ep._async_cleanup_kernel()
        except Exception:  # a kernel that is already gone
            pass
        finally:
            ep.shutdown_kernel = polite
            self._remove_folders()


def _grading_kernel(cmd: list[str]) -> list[str]:
    """The kernelspec's `python -m ipykernel_launcher ...` started through kernel_main (no debugger) and
    without IPython's on-disk history (the box's home is thrown away with it); any other kernel as given."""
    if len(cmd) >= 3 and cmd[1:3] == ["-m", "ipykernel_launcher"]:
        return [cmd[0], "-m", "shifu.grading.kernel_main", *cmd[3:], "--HistoryManager.enabled=False"]
    return cmd


def _mark_not_run(cells: list[NotebookNode], limit: float | None) -> None:
    """Cells never reached get an error output, so their tests score 0 instead of passing silently."""
    for cell in cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        cell.outputs = [NotebookNode(
            output_type="error", ename=NOTEBOOK_TIMEOUT_ENAME,
            evalue=f"not run: the notebook used up its {limit:g} s",
            traceback=[f"{NOTEBOOK_TIMEOUT_ENAME}: not run: the notebook used up its {limit:g} s"])]


def _mark_died(cells: list[NotebookNode], index: int) -> None:
    """The kernel died in cells[index]: that cell gets the error, later cells are marked not run.

    Earlier cells keep their outputs, so their points count (nbgrader itself would zero them all)."""
    label = _label(cells[index], index)
    died = f"the kernel died while {label} ran (os._exit, a crash, or out of memory)"
    cells[index].outputs = list(cells[index].get("outputs", [])) + [NotebookNode(
        output_type="error", ename=KERNEL_DIED_ENAME, evalue=died, traceback=[f"{KERNEL_DIED_ENAME}: {died}"])]
    for cell in cells[index + 1:]:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        why = f"not run: the kernel died in {label}"
        cell.outputs = [NotebookNode(output_type="error", ename=NOT_RUN_ENAME, evalue=why,
                                     traceback=[f"{NOT_RUN_ENAME}: {why}"])]


def _label(cell: NotebookNode, index: int) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {grade_id!r}" if grade_id else f"cell {index + 1}"


__all__ = ["KernelRun", "Outcome", "DeadKernelError", "InfrastructureError", "NOTEBOOK_TIMEOUT_ENAME",
           "KERNEL_DIED_ENAME", "NOT_RUN_ENAME", "NOT_RUN_ENAMES"]
