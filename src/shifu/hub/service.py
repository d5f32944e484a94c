"""The role-play service: a JupyterHub service that runs the engine and keeps the transcripts of record.

The hub starts it (`python -m shifu.hub.service`) as its own Unix user; every request is authenticated
through the hub (a hub token in the Authorization header). The engine runs here, so reply times are
measured on the service's clock and outcomes are computed here: a trainee can neither edit a reply time
nor an outcome. Transcripts live in SHIFU_ROLEPLAY_DATA/<user>/<scenario>.jsonl (0700, the service's
user only); a finished one is kept as <scenario>.<n>.jsonl when the trainee starts again.

HTTP API under the service prefix (JSON unless said otherwise):
  GET  health                                  {"ok": true}            (no login)
  POST api/sessions/<scenario>                 start or resume: {"scenario", "history": [[role, text]], "state", "debrief"|null}
  POST api/sessions/<scenario>/reply           {"text"} -> {"buyer", "latency_s", "notice", "state"}
  POST api/sessions/<scenario>/finish          -> {"state", "debrief"}
  GET  api/transcripts/<user>                  {"user", "transcripts": [file names]}   (that user, or a mentor)
  GET  api/transcripts/<user>/<file>           the JSONL (session line marked "recorded_by": "service")
Nothing can write a transcript except the three session calls, and those only for the caller's own.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jupyterhub.services.auth import HubAuthenticated
from tornado import ioloop, web
from tornado.httpserver import HTTPServer

from shifu.roleplay.engine import Engine
from shifu.content.errors import ShifuError
from shifu.roleplay.scenario import load_scenario
from shifu.roleplay.transcript import mark_recorded_by_service, read_transcript

_SCENARIO = r"([a-z0-9][a-z0-9-]{0,80})"
_USER = r"([a-z][a-z0-9_-]{0,31})"
_FILE = r"([a-z0-9][a-z0-9.-]{0,90}\.jsonl)"


def _state(engine: Engine) -> dict[str, Any]:
    s = engine.state
    return {"mood": s.mood, "patience_left": s.patience_left, "turn": s.turn, "outcome": s.outcome,
            "escalation": s.escalation.value if s.escalation else None, "ended": s.ended}


def _debrief(engine: Engine) -> dict[str, Any]:
    return asdict(engine.debrief())


class Store:
    """Live conversations by (user, scenario), their transcripts under `root`."""

    def __init__(self, root: Path, mentors: set[str]):
        self.root = root
        self.mentors = mentors
        self.live: dict[tuple[str, str], Engine] = {}
        self.locks: dict[tuple[str, str], asyncio.Lock] = {}

    def folder(self, user: str) -> Path:
        d = self.root / user
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        return d

    def lock(self, user: str, scenario: str) -> asyncio.Lock:
        return self.locks.setdefault((user, scenario), asyncio.Lock())

    def open(self, user: str, scenario: str, restart: bool = False) -> Engine:
        """The user's conversation with this buyer: live, resumed from its transcript, or new.
        restart: a finished conversation is kept as <scenario>.<n>.jsonl and a new one begins (the
        widget's 开始新的一次); without it a finished one is shown again. An unfinished one is always carried on."""
        key = (user, scenario)
        engine = self.live.get(key)
        path = self.folder(user) / f"{scenario}.jsonl"
        if engine is not None and not (restart and engine.state.ended):
            return engine
        if path.exists() and path.stat().st_size > 0:
            try:
                t = read_transcript(path)
            except ShifuError:
                t = None
            if t is not None and (t.end is None or not restart):
                # unfinished (the service restarted): carry on; finished and not asked to restart: shown as it ended
                engine = Engine.resume(path, finished=True)
                self.live[key] = engine
                return engine
            _archive(path)
        scenario_obj = load_scenario(scenario)
        engine = Engine(scenario_obj, backend=os.environ.get("SHIFU_ROLEPLAY_BACKEND") or None,
                        transcript_path=path, trainee=user)
        self.live[key] = engine
        return engine


def _archive(path: Path) -> None:
    n = 1
    while (target := path.with_name(f"{path.stem}.{n}{path.suffix}")).exists():
        n += 1
    path.rename(target)


class _Base(HubAuthenticated, web.RequestHandler):  # type: ignore[misc]
    store: Store

    def initialize(self, store: Store) -> None:
        self.store = store

    def check_xsrf_cookie(self) -> None:  # token-authenticated API: no cookies, no XSRF
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ShifuError):
            reason = str(exc)
        elif isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.finish({"error": reason, "status": status_code})

    def who(self) -> str:
        user = self.current_user
        if not user or user.get("kind", "user") != "user":
            raise web.HTTPError(403, "a hub user's token is needed")
        return str(user["name"])

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body must be JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        return data

    def may_read(self, caller: str, owner: str) -> None:
        if caller != owner and caller not in self.store.mentors:
            raise web.HTTPError(403, "only the trainee and the mentors may read these transcripts")

    async def engine_call(self, user: str, scenario: str, fn: Any) -> Any:
        """Run engine work off the event loop (an LLM voice can take seconds), one call per conversation at a time."""
        try:
            load_scenario(scenario)
        except ShifuError as exc:
            raise web.HTTPError(404, f"unknown scenario {scenario!r}: {exc}") from None
        async with self.store.lock(user, scenario):
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(None, fn)
            except ShifuError as exc:
                raise web.HTTPError(409, str(exc)) from None


class Health(web.RequestHandler):
    def get(self) -> None:
        self.finish({"ok": True})


class SessionHandler(_Base):
    async def post(self, scenario: str) -> None:
        user = self.who()
        restart = bool(self.body().get("restart"))

        def start() -> dict[str, Any]:
            engine = self.store.open(user, scenario, restart)
            if not engine.history:
                engine.opening()
            return {"scenario": scenario, "user": user, "history": [list(h) for h in engine.history],
                    "notices": list(engine.notices), "state": _state(engine),
                    "debrief": _debrief(engine) if engine.state.ended else None,
                    "transcript": f"{user}/{scenario}.jsonl"}

        self.finish(await self.engine_call(user, scenario, start))


class ReplyHandler(_Base):
    async def post(self, scenario: str) -> None:
        user = self.who()
        text = str(self.body().get("text") or "")

        def reply() -> dict[str, Any]:
            engine = self.store.open(user, scenario)
            if not engine.history:
                engine.opening()
            # The reply time is the service's own: from the buyer's line leaving here to the reply arriving.
            turn = engine.respond(text, latency_s=round(engine.elapsed_since_buyer(), 3))
            out = {"buyer": turn.buyer, "latency_s": turn.latency_s, "notice": turn.notice, "state": _state(engine)}
            if engine.state.ended:
                engine.finish()
                out["debrief"] = _debrief(engine)
            return out

        self.finish(await self.engine_call(user, scenario, reply))


class FinishHandler(_Base):
    async def post(self, scenario: str) -> None:
        user = self.who()

        def finish() -> dict[str, Any]:
            engine = self.store.open(user, scenario)
            engine.finish()
            return {"state": _state(engine), "debrief": _debrief(engine)}

        self.finish(await self.engine_call(user, scenario, finish))


class TranscriptList(_Base):
    def get(self, owner: str) -> None:
        self.may_read(self.who(), owner)
        folder = self.store.root / owner
        names = sorted(p.name for p in folder.glob("*.jsonl")) if folder.is_dir() else []
        self.finish({"user": owner, "transcripts": names})


class TranscriptFile(_Base):
    def get(self, owner: str, name: str) -> None:
        self.may_read(self.who(), owner)
        path = self.store.root / owner / name
        if not path.is_file():
            raise web.HTTPError(404, f"no transcript {owner}/{name}")
        self.set_header("Content-Type", "application/x-ndjson; charset=utf-8")
        self.finish(mark_recorded_by_service(path.read_text(encoding="utf-8")))


def make_app(store: Store, prefix: str) -> web.Application:
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    p = re.escape(prefix)
    return web.Application([
        (p + r"health", Health),
        (p + rf"api/sessions/{_SCENARIO}", SessionHandler, {"store": store}),
        (p + rf"api/sessions/{_SCENARIO}/reply", ReplyHandler, {"store": store}),
        (p + rf"api/sessions/{_SCENARIO}/finish", FinishHandler, {"store": store}),
        (p + rf"api/transcripts/{_USER}", TranscriptList, {"store": store}),
        (p + rf"api/transcripts/{_USER}/{_FILE}", TranscriptFile, {"store": store}),
    ])


def main() -> None:
    """Entry point for the hub: settings come from the environment the hub gives its services."""
    from urllib.parse import urlparse

    root = Path(os.environ["SHIFU_ROLEPLAY_DATA"])
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.umask(0o077)
    mentors = {n for n in os.environ.get("SHIFU_HUB_MENTORS", "").split(",") if n}
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/roleplay/")
    app = make_app(Store(root, mentors), prefix)
    HTTPServer(app, xheaders=True).listen(url.port or 80, url.hostname or "127.0.0.1")
    loop = ioloop.IOLoop.current()
    # The hub stops its services with SIGINT, then SIGTERM; a process started in the background may
    # inherit SIGINT ignored, so both are handled here: stop at once (every turn is already on disk).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: loop.add_callback_from_signal(loop.stop))
    loop.start()


if __name__ == "__main__":
    main()
