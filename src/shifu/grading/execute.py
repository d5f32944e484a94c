"""Run one notebook the way nbgrader's Execute preprocessor does, but as a coroutine.

nbgrader's Execute (an nbconvert ExecutePreprocessor, i.e. an nbclient NotebookClient) runs cells
with blocking calls, one notebook at a time. Here the same preprocessor object, configured the same
way, drives its kernel through nbclient's async API, so several notebooks run at once in one
process. The steps mirror ExecutePreprocessor.preprocess: fresh kernel per notebook, kernel_info
into metadata.language_info, every cell with store_history=True, widget state at the end.

The kernel is started ahead of need (`start`), then the cells run (`run`), then it is shut down.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import IO, Any

from nbclient.client import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_hook
from nbformat import NotebookNode

NOTEBOOK_TIMEOUT_ENAME = "NotebookTimeoutError"


@dataclass
class Outcome:
    """What happened while the cells ran (the scores come later, from nbgrader)."""

    timed_out_cells: list[int] = field(default_factory=list)   # cell indices interrupted by the cell timeout
    notebook_timed_out: bool = False
    seconds: float = 0.0


class KernelRun:
    """One notebook, one fresh kernel, one nbgrader Execute preprocessor instance."""

    def __init__(self, preprocessor: Any, nb: NotebookNode, resources: dict, kernel_log: IO[str] | None = None,
                 context: Any = None, socket_dir: str | None = None):
        self.ep = preprocessor
        self.nb = nb
        self.resources = resources
        self.kernel_log = kernel_log
        self.context = context  # one zmq context for all kernels: a context per kernel blocks ~0.1 s on close
        # Unix sockets in a private folder: kernels started together over TCP can race for the same free port
        self.socket_dir = socket_dir if os.name == "posix" else None
        self.started = False

    async def start(self, attempts: int = 2) -> None:
        """Start the kernel and wait until it answers: the slow part, done before the notebook's turn.

        A kernel that dies while starting (before any trainee code ran) is started once more.
        """
        for attempt in range(attempts):
            try:
                await self._start_once()
                return
            except Exception:
                await self.shutdown(now=True)
                if attempt == attempts - 1:
                    raise

    async def _start_once(self) -> None:
        ep = self.ep
        NotebookClient.__init__(ep, self.nb)          # as ExecutePreprocessor.preprocess does
        ep.reset_execution_trackers()
        ep._check_assign_resources(self.resources)
        ep.km = self._kernel_manager()
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
        if self.socket_dir is not None:
            kwargs["transport"] = "ipc"
            kwargs["ip"] = os.path.join(self.socket_dir, uuid.uuid4().hex[:12])
        return ep.kernel_manager_class(**kwargs)

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
        await run_hook(ep.on_notebook_start, notebook=ep.nb)

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
            await ep.async_execute_cell(cell, index, store_history=True)
            timeout_ename = (ep.error_on_timeout or {}).get("ename", "CellTimeoutError")
            if cell.cell_type == "code" and any(o.get("output_type") == "error" and o.get("ename") == timeout_ename
                                                for o in cell.get("outputs", [])):
                outcome.timed_out_cells.append(index)
                if deadline is not None and time.monotonic() >= deadline:
                    outcome.notebook_timed_out = True
        ep.set_widgets_metadata()
        outcome.seconds = time.monotonic() - begin
        return outcome

    async def shutdown(self, now: bool = False) -> None:
        """Stop the kernel; right away when it may be stuck (a timed-out cell), politely otherwise."""
        ep = self.ep
        if ep.km is None:
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


def _mark_not_run(cells: list[NotebookNode], limit: float | None) -> None:
    """Cells never reached get an error output, so their tests score 0 instead of passing silently."""
    for cell in cells:
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        cell.outputs = [NotebookNode(
            output_type="error", ename=NOTEBOOK_TIMEOUT_ENAME,
            evalue=f"not run: the notebook used up its {limit:g} s",
            traceback=[f"{NOTEBOOK_TIMEOUT_ENAME}: not run: the notebook used up its {limit:g} s"])]


__all__ = ["KernelRun", "Outcome", "DeadKernelError", "NOTEBOOK_TIMEOUT_ENAME"]
