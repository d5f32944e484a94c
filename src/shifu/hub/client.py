"""Talking to the role-play service: the chat widget's remote engine and the mentor's transcript fetch.

The service is there when SHIFU_ROLEPLAY_URL is set (the hub sets it for every user's server, e.g.
http://127.0.0.1:8000/services/roleplay/); the hub token comes from JUPYTERHUB_API_TOKEN, which the
hub gives every user's server and its kernels. Uses only the standard library (urllib).
"""
from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from shifu.roleplay.engine import Debrief, FactDebrief
from shifu.roleplay.engine_rules import load_rules
from shifu.content.errors import ShifuError
from shifu.roleplay.scenario import load_scenario


def service_url() -> str | None:
    """The role-play service's base URL (ending in /), or None when there is no hub: then the widget runs locally."""
    url = os.environ.get("SHIFU_ROLEPLAY_URL", "").strip()
    return (url.rstrip("/") + "/") if url else None


def service_token() -> str:
    token = os.environ.get("SHIFU_ROLEPLAY_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN") or ""
    if not token:
        raise ShifuError("SHIFU_ROLEPLAY_URL is set but there is no hub token (JUPYTERHUB_API_TOKEN) "
                         "— fix: open the notebook from your JupyterHub server, or unset SHIFU_ROLEPLAY_URL to practise locally")
    return token


class ServiceClient:
    """JSON over HTTP to the service; every failure becomes a ShifuError quoting the service."""

    def __init__(self, base_url: str | None = None, token: str | None = None, timeout: float = 120.0):
        base = base_url or service_url()
        if not base:
            raise ShifuError("no role-play service — fix: set SHIFU_ROLEPLAY_URL (the hub does this for you)")
        self.base = base.rstrip("/") + "/"
        self.token = token or service_token()
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, raw: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                text = resp.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error") or detail
            except ValueError:
                pass
            raise ShifuError(f"the role-play service answered {exc.code} to {method} {path}: {detail[:300]}") from None
        except OSError as exc:
            raise ShifuError(f"the role-play service at {self.base} cannot be reached: {exc} "
                             "— fix: ask your mentor whether the hub's role-play service is running") from None
        return text if raw else json.loads(text)


@dataclass
class RemoteState:
    mood: int
    patience_left: int
    turn: int
    outcome: str
    escalation: str | None
    ended: bool


@dataclass(frozen=True)
class RemoteTurn:
    buyer: str
    latency_s: float | None
    notice: str | None
    outcome: str


def _debrief(data: dict[str, Any]) -> Debrief:
    facts = tuple(FactDebrief(**f) for f in data.get("facts", ()))
    return Debrief(outcome=data["outcome"], escalation=data.get("escalation"), resolution=data.get("resolution"),
                   mood=data["mood"], turns=data["turns"], facts=facts)


class RemoteEngine:
    """What the chat widget needs of an engine, with the engine itself in the service.

    The buyer's lines arrive whole (no streaming); reply times are measured by the service.
    """

    def __init__(self, scenario_id: str, client: ServiceClient | None = None, restart: bool = False):
        self.client = client or ServiceClient()
        self.scenario = load_scenario(scenario_id)
        self.rules = load_rules()
        data = self.client.request("POST", f"api/sessions/{self.scenario.id}", {"restart": restart})
        self.history: list[tuple[str, str]] = [(r, t) for r, t in data["history"]]
        self.notices: list[str] = list(data.get("notices", []))
        self.transcript = str(data.get("transcript", ""))
        self._state = RemoteState(**data["state"])
        self._debrief = _debrief(data["debrief"]) if data.get("debrief") else None
        self._buyer_done_at = time.monotonic()

    @property
    def state(self) -> RemoteState:
        return self._state

    def elapsed_since_buyer(self) -> float:
        return time.monotonic() - self._buyer_done_at

    def opening(self, on_text: Callable[[str], None] | None = None) -> str:
        return next((t for r, t in self.history if r == "buyer"), "")

    def respond(self, reply: str, latency_s: float | None = None, on_text: Callable[[str], None] | None = None) -> RemoteTurn:
        data = self.client.request("POST", f"api/sessions/{self.scenario.id}/reply", {"text": reply})
        self.history += [("trainee", reply.strip()), ("buyer", data["buyer"])]
        self._state = RemoteState(**data["state"])
        if data.get("debrief"):
            self._debrief = _debrief(data["debrief"])
        self._buyer_done_at = time.monotonic()
        return RemoteTurn(buyer=data["buyer"], latency_s=data.get("latency_s"), notice=data.get("notice"),
                          outcome=self._state.outcome)

    def finish(self) -> Debrief:
        data = self.client.request("POST", f"api/sessions/{self.scenario.id}/finish")
        self._state = RemoteState(**data["state"])
        self._debrief = _debrief(data["debrief"])
        return self._debrief

    def debrief(self) -> Debrief:
        if self._debrief is None:
            return self.finish()
        return self._debrief


def fetch_transcripts(submitted: Path, client: ServiceClient | None = None,
                      assignment: str | None = None) -> list[Path]:
    """Put the service's transcript of record beside each collected submission.

    submitted: the course's submitted/ folder (<trainee>/<assignment>/...). Every `<scenario>.jsonl`
    there is replaced by the service's copy of that trainee's conversation with that buyer (the one the
    trainee handed in is kept as `<scenario>.jsonl.handed-in`); a submission whose trainee never played
    a buyer through the service keeps no transcript for it, so it is graded as not played.
    The same copies go to <course>/transcripts-of-record/<trainee>/<assignment>/ too: outside submitted/,
    where nothing a trainee hands in can land, so a grader may trust their reply times.
    Returns the files written into submitted/.
    """
    record_root = submitted.parent / "transcripts-of-record"
    client = client or ServiceClient()
    written: list[Path] = []
    for trainee_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        listing = client.request("GET", f"api/transcripts/{trainee_dir.name}")["transcripts"]
        for adir in sorted(p for p in trainee_dir.iterdir() if p.is_dir()):
            if assignment and adir.name != assignment:
                continue
            for handed_in in sorted(adir.glob("*.jsonl")):
                kept = handed_in.with_name(handed_in.name + ".handed-in")
                if kept.exists():  # run before: this one is the service's copy, fetched again below
                    handed_in.unlink()
                else:
                    handed_in.rename(kept)
            for name in _scenarios_of(adir):
                if f"{name}.jsonl" in listing:
                    text = client.request("GET", f"api/transcripts/{trainee_dir.name}/{name}.jsonl", raw=True)
                    out = adir / f"{name}.jsonl"
                    out.write_text(text, encoding="utf-8")
                    written.append(out)
                    of_record = record_root / trainee_dir.name / adir.name / f"{name}.jsonl"
                    of_record.parent.mkdir(parents=True, exist_ok=True)
                    of_record.write_text(text, encoding="utf-8")
    return written


def _scenarios_of(assignment_dir: Path) -> list[str]:
    """Scenario ids a submission's notebooks open (their start_roleplay("...") calls)."""
    found: list[str] = []
    for nb in assignment_dir.glob("*.ipynb"):
        for m in re.finditer(r'start_roleplay\(\\?"([a-z0-9-]+)\\?"', nb.read_text(encoding="utf-8")):
            if m.group(1) not in found:
                found.append(m.group(1))
    return found
