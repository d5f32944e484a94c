"""The role-play as a notebook chat (ipywidgets, JupyterLab 4).

Chat bubbles, a mood meter, a reply timer and a debrief on "finish". The transcript beside the
notebook gets every turn as it happens; a send that fails leaves the text in the box.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

import ipywidgets as widgets

from shifu.roleplay.attempts import attempts, choose, hand_in, set_aside
from shifu.roleplay.voices import Voice, make_voice
from shifu.roleplay.engine import Engine, Turn
from shifu.content.errors import ShifuError
from shifu.roleplay.scenario import load_scenario
from shifu.roleplay.transcript import read_transcript
from shifu.content.ui_text import ui_text
from shifu.roleplay.widget_parts import ChatInput, ReplyTimer

_CSS = """<style>
.shifu-row{display:flex;margin:4px 0}
.shifu-row.trainee{justify-content:flex-end}
.shifu-bubble{max-width:75%;padding:6px 10px;border-radius:10px;line-height:1.5;white-space:pre-wrap;word-break:break-word;overflow-wrap:anywhere}
.shifu-row.buyer .shifu-bubble{background:#f1f1f1;color:#222}
.shifu-row.trainee .shifu-bubble{background:#d7f5d0;color:#222}
.shifu-who{font-size:11px;color:#888;margin:0 6px;flex:none}
.shifu-notice{background:#fff6d6;color:#7a5b00;padding:4px 8px;border-radius:6px;font-size:12px;white-space:pre-wrap}
.shifu-roleplay, .shifu-roleplay *{box-sizing:border-box}
.shifu-roleplay{overflow-x:hidden}
.shifu-card{line-height:1.6}
</style>"""


def _bubble(role: str, who: str, text: str) -> str:
    cls = "buyer" if role == "buyer" else "trainee"
    return (f'<div class="shifu-row {cls}"><span class="shifu-who">{html.escape(who)}</span>'
            f'<div class="shifu-bubble shifu-{cls}">{html.escape(text)}</div></div>')


def _full_width(**extra: str) -> widgets.Layout:
    """As wide as the cell, never wider: stretched by the box around it (ipywidgets' 2px margins would make
    width 100% overflow by 4px and show a horizontal scrollbar)."""
    return widgets.Layout(max_width="100%", align_self="stretch", **extra)


class RoleplayWidget(widgets.VBox):
    """One conversation in a notebook. `send(text)` and `finish()` are what the buttons call.

    restart: makes the engine of a new attempt (the current file set aside first, shifu.roleplay.attempts);
    given only for a local transcript, where the attempts bar (which attempt to hand in, 开始新的一次)
    is shown.
    """

    def __init__(self, engine: Engine, transcript_path: Path, notice: str | None = None,
                 restart: Callable[[], Engine] | None = None):
        self.engine = engine
        self.transcript_path = transcript_path
        self._restart = restart
        sc = engine.scenario
        self._buyer_name = sc.persona.name
        ui = ui_text()
        card = ui.context_lines(sc)
        info = [f"<b>{html.escape(sc.title)}</b>"] + [html.escape(line) for line in card]
        # the first reply's clock starts once the order card could be read (grader/ui.yaml: reading)
        self.reading_s = ui.reading.seconds(sum(len(line) for line in card))
        self.header = widgets.HTML(_CSS + "<div class='shifu-card'>" + "<br>".join(info) + "</div>", layout=_full_width())
        self.mood = widgets.IntProgress(value=engine.state.mood, min=0, max=100, description=ui.mood,
                                        layout=widgets.Layout(width="240px"))
        self.patience = widgets.HTML()
        self.timer = ReplyTimer(label=ui.timer, reading_label=ui.timer_reading, idle_label=ui.timer_idle,
                                benchmark=float(engine.rules.slow_reply_after_s))
        self.last_latency = widgets.HTML()
        self.chat = widgets.VBox(layout=_full_width(max_height="420px", overflow="hidden auto",  # CSS: x then y
                                                    border="1px solid #ddd", padding="6px"))
        self.box = ChatInput(placeholder=ui.input_placeholder, hint=ui.send_hint, layout=_full_width())
        self.send_button = widgets.Button(description=ui.send, button_style="primary", icon="paper-plane")
        self.finish_button = widgets.Button(description=ui.finish, icon="flag-checkered")
        self.status = widgets.HTML()
        self.debrief_view = widgets.HTML()
        self.hand_in = widgets.Dropdown(description=ui.attempts.hand_in, layout=widgets.Layout(width="auto", max_width="100%"),
                                        style={"description_width": "initial"})
        self.new_button = widgets.Button(description=ui.attempts.new, icon="redo")
        self._listing = False
        # ipywidgets only logs what a button callback raises (JupyterLab 4 shows it in the log console, not
        # the cell): every callback reports its failure in the status line and leaves the widget usable.
        self.send_button.on_click(lambda _b: self._guarded(self.send, ui.send_failed))
        self.box.on_send(lambda: self._guarded(self.send, ui.send_failed))
        self.finish_button.on_click(lambda _b: self._guarded(self.finish, ui.finish_failed))
        self.new_button.on_click(lambda _b: self._guarded(self.new_attempt, ui.attempts.new_failed))
        self.hand_in.observe(self._chose, names="value")
        attempts_bar = widgets.HBox([self.hand_in, self.new_button], layout=widgets.Layout(
            flex_flow="row wrap", align_items="center", display="flex" if restart is not None else "none"))
        super().__init__([
            self.header, attempts_bar,
            widgets.HBox([self.mood, self.patience, self.timer, self.last_latency],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="center", max_width="100%")),
            self.chat, self.box, widgets.HBox([self.send_button, self.finish_button]), self.status, self.debrief_view,
        ], layout=_full_width())
        self.add_class("shifu-roleplay")
        self._load(engine, notice)

    def _load(self, engine: Engine, notice: str | None = None) -> None:
        """Show `engine`'s conversation: its history, or the buyer's opening for a new one."""
        self.engine = engine
        self.chat.children = ()
        self.debrief_view.value = ""
        self.status.value = ""
        self.last_latency.value = ""
        self.box.clear()
        self.box.disabled = False
        self.send_button.disabled = False
        self.finish_button.disabled = False
        for role, text in engine.history:
            self._add(role, text)
        if not engine.history:
            bubble = self._add("buyer", "…")
            opening = engine.opening(on_text=lambda so_far: self._set(bubble, "buyer", so_far))
            self._set(bubble, "buyer", opening)
        self._notices(([notice] if notice else []) + engine.notices)
        self._refresh()
        self._list_attempts()
        if engine.state.ended or getattr(engine, "_ended_written", False):
            self._show_debrief()

    # -- actions ----------------------------------------------------------------------------
    def send(self, text: str | None = None) -> Turn | None:
        """Send the box's text (or `text`). On failure the text stays in the box."""
        if text is not None:
            self.box.value = text
        reply = self.box.value.strip()
        if not reply or self.engine.state.ended or self.send_button.disabled:
            return None
        before = self.engine.state.turn
        self.send_button.disabled = True
        self.status.value = ""
        latency = self.engine.elapsed_since_buyer()
        if before == 0:  # the order card was being read first: its allowance is not reply time
            latency = max(0.0, latency - self.reading_s)
        self._add("trainee", reply)
        bubble = self._add("buyer", "…")
        self.timer.stop()
        try:
            turn = self.engine.respond(reply, latency_s=latency, on_text=lambda so_far: self._set(bubble, "buyer", so_far or "…"))
        except Exception as exc:  # the conversation must survive anything; the text stays in the box
            if self.engine.state.turn == before:
                self.chat.children = self.chat.children[:-2]
            else:
                self.box.clear()  # the reply was taken and is in the transcript
            self._failed(ui_text().send_failed, exc)
            self.send_button.disabled = self.engine.state.ended
            self._refresh()
            return None
        self._set(bubble, "buyer", turn.buyer)
        if turn.notice:
            self._notices([turn.notice])
        self.box.clear()
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
            self.box.focus()
        self._list_attempts()
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
        self._list_attempts()
        return True

    def new_attempt(self) -> bool:
        """Keep this conversation as an earlier attempt and start a new one (local transcripts only)."""
        if self._restart is None:
            return False
        # an unfinished attempt is kept unfinished: closing it would make it the "newest finished" one
        # and hand it in by default instead of an earlier conversation that did finish
        self._load(self._restart())
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

    # -- attempts ---------------------------------------------------------------------------
    def _list_attempts(self) -> None:
        """Fill the hand-in choice with this scenario's attempts (shown when there are two or more)."""
        if self._restart is None or not isinstance(self.transcript_path, Path):
            return
        folder, name = self.transcript_path.parent, self.transcript_path.name
        found = attempts(folder, name)
        ui = ui_text()
        options = [(ui.attempts.option.format(number=a.number, state=ui.outcome(a.outcome), replies=a.replies), a.path.name)
                   for a in found]
        self._listing = True
        try:
            self.hand_in.options = options
            self.hand_in.value = hand_in(folder, name).name if options else None
        except Exception:  # the graded file is not among the attempts listed (it does not exist yet)
            self.hand_in.value = None
        finally:
            self._listing = False
        self.hand_in.layout.display = "flex" if len(found) > 1 else "none"

    def _chose(self, change: dict) -> None:
        if self._listing or not change.get("new") or not isinstance(self.transcript_path, Path):
            return
        try:
            choose(self.transcript_path.parent, self.transcript_path.name, change["new"])
        except ShifuError as exc:
            self._failed(ui_text().attempts.choose_failed, exc)

    # -- display ----------------------------------------------------------------------------
    def _add(self, role: str, text: str) -> widgets.HTML:
        who = self._buyer_name if role == "buyer" else ui_text().trainee_name
        bubble = widgets.HTML(_bubble(role, who, text), layout=_full_width())
        self.chat.children = (*self.chat.children, bubble)
        return bubble

    def _set(self, bubble: widgets.HTML, role: str, text: str) -> None:
        bubble.value = _bubble(role, self._buyer_name if role == "buyer" else ui_text().trainee_name, text)

    def _notices(self, notices: list[str]) -> None:
        for n in notices:
            self.chat.children = (*self.chat.children, widgets.HTML(f'<div class="shifu-notice">{html.escape(n)}</div>',
                                                                    layout=_full_width()))

    def _refresh(self) -> None:
        s = self.engine.state
        self.mood.value = s.mood
        self.mood.bar_style = "danger" if s.mood < 30 else ("warning" if s.mood < 55 else "success")
        total = self.engine.scenario.persona.patience
        self.patience.value = ui_text().patience.format(left=s.patience_left, total=total, turn=s.turn)
        if s.ended or getattr(self.engine, "_ended_written", False):
            self.timer.stop()
        else:
            self.timer.restart(self.reading_s if s.turn == 0 else 0.0)
        # nothing to keep before the first reply: a new attempt is offered once there is one
        self.new_button.layout.display = "flex" if s.turn > 0 or s.ended or getattr(self.engine, "_ended_written", False) else "none"

    def _show_debrief(self) -> None:
        d = self.engine.debrief()
        self.send_button.disabled = True
        self.finish_button.disabled = True
        self.box.disabled = True
        self.timer.stop()
        self.new_button.layout.display = "flex"
        ui = ui_text()
        head = ui.outcome(d.outcome, d.escalation)
        rows = [f"<b>{html.escape(ui.result.format(outcome=head))}</b> · {html.escape(ui.mood_turns.format(mood=d.mood, turns=d.turns))}"]
        if d.resolution:  # the scenario's words for the accepted remedy, not its id
            sc = self.engine.scenario
            said = next((r.description for r in (*sc.accepts, *sc.never_offer) if r.id == d.resolution), d.resolution)
            rows.append(html.escape(ui.resolution.format(value=said)))
        for f in d.uncovered:
            rows.append(f'<span style="color:#2a7">{html.escape(ui.uncovered.format(value=f.fact))}</span>')
        for f in d.missed:
            rows.append(f'<span style="color:#c33">{html.escape(ui.missed.format(value=f.fact))}</span>')
        for turn, demand in d.unanswered:
            said = ui.unanswered.format(turn=turn, value=ui.demand_asked.get(demand, demand))
            rows.append(f'<span style="color:#c33">{html.escape(said)}</span>')
        rows.append(html.escape(ui.saved.format(value=self.transcript_path)))
        self.debrief_view.value = "<div class='shifu-debrief'>" + "<br>".join(rows) + "</div>"


def _current(path: Path, scenario_id: str) -> tuple[str, str | None]:
    """What the current transcript file is: ("none" | "ongoing" | "finished" | "unreadable" | "other", kept name)."""
    if not path.exists() or path.stat().st_size == 0:
        return "none", None
    try:
        t = read_transcript(path)
    except ShifuError:
        return "unreadable", None
    if t.session.scenario != scenario_id:
        return "other", None
    return ("ongoing" if t.end is None else "finished"), None


def roleplay(scenario_id: str, transcript_dir: str = ".", backend: str | Voice | None = None,
             trainee: str | None = None, seed: int = 0) -> RoleplayWidget:
    """A chat with the scenario's buyer. The transcript is <transcript_dir>/<scenario_id>.jsonl.

    Running the cell again never loses or silently replaces anything: an unfinished conversation is
    resumed, a finished one is shown with its debrief; "开始新的一次" keeps it as
    <scenario_id>.<n>.jsonl and starts a new attempt, and the trainee picks which attempt to hand in
    (shifu.roleplay.attempts). On a hub (SHIFU_ROLEPLAY_URL set) the conversation runs in the role-play
    service instead, which keeps the transcript of record; `transcript_dir`, `backend` and `seed` are
    then the service's to choose."""
    from shifu.hub.client import service_url

    ui = ui_text()
    if service_url():  # on the hub: the engine and the transcript of record are the role-play service's
        from shifu.hub.client import RemoteEngine

        remote = RemoteEngine(scenario_id, restart=False)  # what was said is shown again, never replaced

        def again() -> Engine:
            if not remote_state_ended(widget.engine):
                widget.engine.finish()
            return RemoteEngine(scenario_id, restart=True)  # type: ignore[return-value]

        widget = RoleplayWidget(remote, f"{service_url()}api/transcripts/{remote.transcript}", restart=again)  # type: ignore[arg-type]
        return widget
    scenario = load_scenario(scenario_id)
    path = Path(transcript_dir) / f"{scenario.id}.jsonl"
    notes: list[str] = []
    try:
        voice = make_voice(backend)
    except ShifuError as exc:  # a trainee can still practise while the LLM settings are fixed
        voice = make_voice("scripted")
        notes.append(ui.llm_fallback.format(error=exc))
    chosen_voice = voice if backend is not None or notes else None

    def fresh() -> Engine:
        return Engine(scenario, backend=voice, seed=seed, transcript_path=path, trainee=trainee)

    def again() -> Engine:
        writer = getattr(widget.engine, "_writer", None)
        if writer is not None:
            writer.close()
        if path.exists():
            set_aside(path)  # kept as <scenario>.<n>.jsonl, unfinished or not
        return fresh()

    state, _ = _current(path, scenario.id)
    if state in ("unreadable", "other"):  # kept for the mentor under a new name, never deleted
        kept = set_aside(path)
        notes.append(ui.attempts.unreadable.format(kept=kept.name))
        state = "none"
    if state == "none":
        engine = fresh()
    else:
        engine = Engine.resume(path, backend=chosen_voice, finished=True)
        number = len(attempts(path.parent, path.name))
        if state == "finished":
            notes.append(ui.attempts.shown_finished.format(number=number, state=ui.outcome(engine.debrief().outcome)))
        else:
            notes.append(ui.attempts.shown_ongoing.format(number=number))
    widget = RoleplayWidget(engine, path, "\n".join(notes) or None, restart=again)
    return widget


def remote_state_ended(engine: object) -> bool:
    state = getattr(engine, "state", None)
    return bool(getattr(state, "ended", False))
