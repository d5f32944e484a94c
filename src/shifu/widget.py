"""The role-play as a notebook chat (ipywidgets, JupyterLab 4).

Chat bubbles, a mood meter, a reply timer and a debrief on "finish". The transcript beside the
notebook gets every turn as it happens; a send that fails leaves the text in the box.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

import ipywidgets as widgets

from .backends import Voice, make_voice
from .engine import Engine, Turn
from .errors import ShifuError
from .scenario import load_scenario
from .transcript import read_transcript
from .ui_text import ui_text

_CSS = """<style>
.shifu-row{display:flex;margin:4px 0}
.shifu-row.trainee{justify-content:flex-end}
.shifu-bubble{max-width:75%;padding:6px 10px;border-radius:10px;line-height:1.5;white-space:pre-wrap;word-break:break-word}
.shifu-row.buyer .shifu-bubble{background:#f1f1f1;color:#222}
.shifu-row.trainee .shifu-bubble{background:#d7f5d0;color:#222}
.shifu-who{font-size:11px;color:#888;margin:0 6px}
.shifu-notice{background:#fff6d6;color:#7a5b00;padding:4px 8px;border-radius:6px;font-size:12px}
</style>"""


def _bubble(role: str, who: str, text: str) -> str:
    cls = "buyer" if role == "buyer" else "trainee"
    return (f'<div class="shifu-row {cls}"><span class="shifu-who">{html.escape(who)}</span>'
            f'<div class="shifu-bubble shifu-{cls}">{html.escape(text)}</div></div>')


def _archive(path: Path) -> Path:
    """Move a finished transcript aside (never delete a trainee's work) and return its new name."""
    n = 1
    while (target := path.with_name(f"{path.stem}.{n}{path.suffix}")).exists():
        n += 1
    path.rename(target)
    return target


class RoleplayWidget(widgets.VBox):
    """One conversation in a notebook. `send(text)` and `finish()` are what the buttons call."""

    def __init__(self, engine: Engine, transcript_path: Path, notice: str | None = None):
        self.engine = engine
        self.transcript_path = transcript_path
        sc = engine.scenario
        self._buyer_name = sc.persona.name
        ui = ui_text()
        info = [f"<b>{html.escape(sc.title)}</b>"] + [html.escape(line) for line in ui.context_lines(sc)]
        self.header = widgets.HTML(_CSS + "<div>" + "<br>".join(info) + "</div>")
        self.mood = widgets.IntProgress(value=engine.state.mood, min=0, max=100, description=ui.mood,
                                        layout=widgets.Layout(width="260px"))
        self.patience = widgets.HTML()
        # The ticking counter runs in the browser (a Play widget linked to a number): nothing in the
        # kernel has to wake up every second. The latency that counts is measured in the kernel.
        self._clock = widgets.Play(value=0, min=0, max=3600, step=1, interval=1000, show_repeat=False,
                                   layout=widgets.Layout(display="none"))
        self.timer = widgets.IntText(value=0, description=ui.timer, disabled=True,
                                     layout=widgets.Layout(width="180px"), style={"description_width": "initial"})
        widgets.jsdlink((self._clock, "value"), (self.timer, "value"))
        self.last_latency = widgets.HTML()
        self.chat = widgets.VBox(layout=widgets.Layout(max_height="420px", overflow="auto", border="1px solid #ddd",
                                                       padding="6px"))
        self.box = widgets.Textarea(placeholder=ui.input_placeholder, layout=widgets.Layout(width="100%", height="70px"))
        self.send_button = widgets.Button(description=ui.send, button_style="primary", icon="paper-plane")
        self.finish_button = widgets.Button(description=ui.finish, icon="flag-checkered")
        self.status = widgets.HTML()
        self.debrief_view = widgets.HTML()
        # ipywidgets only logs what a button callback raises (JupyterLab 4 shows it in the log console, not
        # the cell): every callback reports its failure in the status line and leaves the widget usable.
        self.send_button.on_click(lambda _b: self._guarded(self.send, ui.send_failed))
        self.finish_button.on_click(lambda _b: self._guarded(self.finish, ui.finish_failed))
        super().__init__([
            self.header,
            widgets.HBox([self.mood, self.patience, self.timer, self.last_latency, self._clock]),
            self.chat, self.box, widgets.HBox([self.send_button, self.finish_button]), self.status, self.debrief_view,
        ])
        for role, text in engine.history:
            self._add(role, text)
        if not engine.history:
            bubble = self._add("buyer", "…")
            opening = engine.opening(on_text=lambda so_far: self._set(bubble, "buyer", so_far))
            self._set(bubble, "buyer", opening)
        self._notices(([notice] if notice else []) + engine.notices)
        self._refresh()
        if engine.state.ended:
            self._show_debrief()

    # -- actions ----------------------------------------------------------------------------
    def send(self, text: str | None = None) -> Turn | None:
        """Send the box's text (or `text`). On failure the text stays in the box."""
        if text is not None:
            self.box.value = text
        reply = self.box.value.strip()
        if not reply or self.engine.state.ended:
            return None
        before = self.engine.state.turn
        self.send_button.disabled = True
        self.status.value = ""
        latency = self.engine.elapsed_since_buyer()
        self._add("trainee", reply)
        bubble = self._add("buyer", "…")
        try:
            turn = self.engine.respond(reply, latency_s=latency, on_text=lambda so_far: self._set(bubble, "buyer", so_far or "…"))
        except Exception as exc:  # the conversation must survive anything; the text stays in the box
            if self.engine.state.turn == before:
                self.chat.children = self.chat.children[:-2]
            else:
                self.box.value = ""  # the reply was taken and is in the transcript
            self._failed(ui_text().send_failed, exc)
            self.send_button.disabled = self.engine.state.ended
            return None
        self._set(bubble, "buyer", turn.buyer)
        if turn.notice:
            self._notices([turn.notice])
        self.box.value = ""
        if getattr(turn, "latency_s", None) is not None:
            latency = turn.latency_s  # the role-play service measures reply times on its own clock
        benchmark = self.engine.rules.slow_reply_after_s
        colour = "#2a7" if latency <= benchmark else "#c33"
        text = ui_text().last_latency.format(latency=latency, benchmark=benchmark)
        self.last_latency.value = f'<span style="color:{colour}">{html.escape(text)}</span>'
        self._refresh()
        if turn.outcome != "ongoing":
            self.finish()
        else:
            self.send_button.disabled = False
        return turn

    def finish(self) -> bool:
        """Save the transcript's end and show which hidden facts were uncovered and which were missed.
        When saving fails (disk full, quota) the status line says why, the buttons stay usable and
        clicking again retries; False then."""
        try:
            self.engine.finish()
        except Exception as exc:  # the trainee must see it and be able to try again
            self._failed(ui_text().finish_failed, exc)
            self.finish_button.disabled = False
            self.send_button.disabled = self.engine.state.ended
            return False
        self.status.value = ""
        self._show_debrief()
        return True

    def _guarded(self, action: Callable[[], object], template: str) -> None:
        """Run a button's action; anything it raises is shown in the status line, the typed text kept."""
        try:
            action()
        except Exception as exc:
            self._failed(template, exc)
            self.send_button.disabled = self.engine.state.ended
            self.finish_button.disabled = False

    def _failed(self, template: str, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, ShifuError) else f"{type(exc).__name__}: {exc}"
        self.status.value = f'<span style="color:#b00">{html.escape(template.format(message=message))}</span>'

    # -- display ----------------------------------------------------------------------------
    def _add(self, role: str, text: str) -> widgets.HTML:
        who = self._buyer_name if role == "buyer" else ui_text().trainee_name
        bubble = widgets.HTML(_bubble(role, who, text))
        self.chat.children = (*self.chat.children, bubble)
        return bubble

    def _set(self, bubble: widgets.HTML, role: str, text: str) -> None:
        bubble.value = _bubble(role, self._buyer_name if role == "buyer" else ui_text().trainee_name, text)

    def _notices(self, notices: list[str]) -> None:
        for n in notices:
            self.chat.children = (*self.chat.children, widgets.HTML(f'<div class="shifu-notice">{html.escape(n)}</div>'))

    def _refresh(self) -> None:
        s = self.engine.state
        self.mood.value = s.mood
        self.mood.bar_style = "danger" if s.mood < 30 else ("warning" if s.mood < 55 else "success")
        total = self.engine.scenario.persona.patience
        self.patience.value = ui_text().patience.format(left=s.patience_left, total=total, turn=s.turn)
        self._clock.playing = False
        self._clock.value = 0
        self._clock.playing = not s.ended

    def _show_debrief(self) -> None:
        d = self.engine.debrief()
        self.send_button.disabled = True
        self.finish_button.disabled = True
        self.box.disabled = True
        self._clock.playing = False
        ui = ui_text()
        head = ui.outcome(d.outcome, d.escalation)
        rows = [f"<b>{html.escape(ui.result.format(outcome=head))}</b> · {html.escape(ui.mood_turns.format(mood=d.mood, turns=d.turns))}"]
        if d.resolution:
            rows.append(html.escape(ui.resolution.format(value=d.resolution)))
        for f in d.uncovered:
            rows.append(f'<span style="color:#2a7">{html.escape(ui.uncovered.format(value=f.fact))}</span>')
        for f in d.missed:
            rows.append(f'<span style="color:#c33">{html.escape(ui.missed.format(value=f.fact))}</span>')
        rows.append(html.escape(ui.saved.format(value=self.transcript_path)))
        self.debrief_view.value = "<div class='shifu-debrief'>" + "<br>".join(rows) + "</div>"


def roleplay(scenario_id: str, transcript_dir: str = ".", backend: str | Voice | None = None,
             trainee: str | None = None, seed: int = 0) -> RoleplayWidget:
    """A chat with the scenario's buyer. The transcript is <transcript_dir>/<scenario_id>.jsonl:
    an unfinished one is resumed, a finished one is kept as <scenario_id>.<n>.jsonl.
    On a hub (SHIFU_ROLEPLAY_URL set) the conversation runs in the role-play service instead, which
    keeps the transcript of record; `transcript_dir`, `backend` and `seed` are then the service's to choose."""
    from .hub.client import service_url

    if service_url():  # on the hub: the engine and the transcript of record are the role-play service's
        from .hub.client import RemoteEngine

        remote = RemoteEngine(scenario_id, restart=True)  # as locally: a finished conversation is kept, a new one begins
        return RoleplayWidget(remote, f"{service_url()}api/transcripts/{remote.transcript}")  # type: ignore[arg-type]
    scenario = load_scenario(scenario_id)
    path = Path(transcript_dir) / f"{scenario.id}.jsonl"
    notice = None
    try:
        voice = make_voice(backend)
    except ShifuError as exc:  # a trainee can still practise while the LLM settings are fixed
        voice = make_voice("scripted")
        notice = ui_text().llm_fallback.format(error=exc)
    if path.exists() and path.stat().st_size > 0:
        try:
            t = read_transcript(path)
        except ShifuError:
            _archive(path)
        else:
            if t.end is None and t.session.scenario == scenario.id:
                engine = Engine.resume(path, backend=voice if backend is not None or notice else None)
                return RoleplayWidget(engine, path, notice)
            _archive(path)
    engine = Engine(scenario, backend=voice, seed=seed, transcript_path=path, trainee=trainee)
    return RoleplayWidget(engine, path, notice)
