"""Warm kernels: start each notebook's fresh kernel before its turn, run a few notebooks at once.

Starting a Python kernel costs about a second of CPU, more than running a small notebook. The pool
keeps `ahead` kernels starting for the notebooks next in line while `workers` notebooks execute, so
a notebook's turn never waits for its kernel; every notebook still gets a kernel of its own, as it
does under `nbgrader autograde`.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from shifu.grading.execute import KernelRun


class WarmPool:
    """Limits kernels alive (executing + warming) and notebooks executing; remembers every kernel for cleanup."""

    def __init__(self, workers: int, ahead: int | None = None):
        self.workers = max(1, workers)
        self.ahead = self.workers if ahead is None else max(0, ahead)
        self._alive = asyncio.Semaphore(self.workers + self.ahead)
        self._running = asyncio.Semaphore(self.workers)
        self._runs: dict[KernelRun, asyncio.Future] = {}
        self._stopping: set[asyncio.Task] = set()

    async def warm(self, run: KernelRun) -> asyncio.Task:
        """Wait for room, then start RUN's kernel in the background; the task holds any start-up error."""
        await self._alive.acquire()
        task = asyncio.ensure_future(run.start())
        self._runs[run] = task
        return task

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._running:
            yield

    def stop(self, run: KernelRun, now: bool = False) -> None:
        """Shut RUN's kernel down in the background; its room goes to the next kernel when it is gone."""
        async def _stop() -> None:
            try:
                await run.shutdown(now=now)
            finally:
                self._runs.pop(run, None)
                self._alive.release()
        task = asyncio.ensure_future(_stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        """Wait for shutdowns under way and stop every kernel still alive (after an error or Ctrl-C)."""
        for run, starting in list(self._runs.items()):
            if not starting.done():
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
            await run.shutdown(now=True)
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)
