"""Two small browser-side pieces of the chat widget (anywidget): a reply timer that ticks, and a box where
Enter sends.

Both run their clock and keys in the browser: nothing in the kernel wakes up every second, and a key
press never waits for the kernel. The latency that counts is still measured in the kernel (or by the
hub's role-play service); the timer only shows the trainee the same clock. Labels come from
grader/ui.yaml through the widget (shifu.roleplay.widget); nothing here holds trainee-facing text.
"""
from __future__ import annotations

from typing import Any, Callable

import anywidget
import traitlets

_TIMER_JS = r"""
function render({ model, el }) {
  el.classList.add("shifu-timer");
  const box = document.createElement("span");
  el.appendChild(box);
  let start = null;
  const begin = () => { start = performance.now() + (model.get("delay_ms") || 0); };
  const fill = (template, seconds) => template.split("{seconds}").join(String(seconds));
  function paint() {
    if (!model.get("running") || start === null) {
      box.textContent = model.get("idle_label");
      box.className = "shifu-timer-idle";
      box.dataset.seconds = "";
      return;
    }
    const ms = performance.now() - start;
    if (ms < 0) {  // the reading allowance for the order card: counts down, the reply clock has not started
      box.textContent = fill(model.get("reading_label"), Math.ceil(-ms / 1000));
      box.className = "shifu-timer-reading";
      box.dataset.seconds = "0";
      return;
    }
    const s = Math.floor(ms / 1000);
    box.textContent = fill(model.get("label"), s);
    box.className = s > model.get("benchmark") ? "shifu-timer-slow" : "shifu-timer-ok";
    box.dataset.seconds = String(s);
  }
  model.on("change:run", () => { begin(); paint(); });
  model.on("change:running", paint);
  if (model.get("running")) begin();
  paint();
  const id = setInterval(paint, 250);
  return () => clearInterval(id);
}
export default { render };
"""

_TIMER_CSS = """
.shifu-timer span { display:inline-block; padding:2px 10px; border-radius:12px; font-size:13px;
  font-variant-numeric: tabular-nums; white-space:nowrap; }
.shifu-timer-idle { background:#f1f1f1; color:#888; }
.shifu-timer-reading { background:#eef4ff; color:#2457a6; }
.shifu-timer-ok { background:#e8f6ec; color:#1f7a3a; }
.shifu-timer-slow { background:#fdecec; color:#b3261e; font-weight:600; }
"""

_INPUT_JS = r"""
function render({ model, el }) {
  el.classList.add("shifu-input");
  const ta = document.createElement("textarea");
  ta.rows = 3;
  ta.placeholder = model.get("placeholder");
  ta.value = model.get("value");
  ta.disabled = model.get("disabled");
  const hint = document.createElement("div");
  hint.className = "shifu-input-hint";
  hint.textContent = model.get("hint");
  el.appendChild(ta);
  el.appendChild(hint);
  const sync = () => { if (model.get("value") !== ta.value) { model.set("value", ta.value); model.save_changes(); } };
  ta.addEventListener("input", sync);
  ta.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.stopPropagation();  // JupyterLab must not take Shift+Enter (run cell) or Enter from this box
    if (e.isComposing || e.keyCode === 229) return;  // Enter that confirms a word in a Chinese input method
    if (e.shiftKey) {  // a new line, inserted here: the notebook around the box swallows the key's default
      e.preventDefault();
      ta.setRangeText("\n", ta.selectionStart, ta.selectionEnd, "end");
      sync();
      return;
    }
    e.preventDefault();
    sync();
    if (ta.value.trim() && !ta.disabled) model.send({ event: "send", text: ta.value });
  });
  // The box is the trainee's: a `value` coming back from the kernel is (mostly) the echo of an older
  // keystroke, and writing it into the box would erase what was typed since. The kernel empties the box
  // only by clear() (clear_count), after it has taken the reply into the transcript.
  model.on("change:clear_count", () => { ta.value = ""; });
  model.on("change:disabled", () => { ta.disabled = model.get("disabled"); });
  model.on("change:placeholder", () => { ta.placeholder = model.get("placeholder"); });
  model.on("change:focus_count", () => ta.focus());
}
export default { render };
"""

_INPUT_CSS = """
.shifu-input { width:100%; box-sizing:border-box; }
.shifu-input textarea { width:100%; box-sizing:border-box; min-height:64px; resize:vertical; padding:6px 8px;
  font:inherit; font-size:14px; line-height:1.5; border:1px solid #bbb; border-radius:6px; }
.shifu-input textarea:focus { outline:none; border-color:#2f80ed; box-shadow:0 0 0 2px rgba(47,128,237,.2); }
.shifu-input-hint { font-size:11px; color:#888; margin-top:2px; }
"""


class ReplyTimer(anywidget.AnyWidget):
    """Seconds since the buyer's line was shown, ticking in the browser; red past `benchmark`.

    Set `delay_ms` (a reading allowance, shown as a countdown) and bump `run` to restart it; `running`
    False stops it. label / reading_label hold `{seconds}`; idle_label is shown while stopped.
    """

    _esm = _TIMER_JS
    _css = _TIMER_CSS
    run = traitlets.Int(0).tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    delay_ms = traitlets.Int(0).tag(sync=True)
    benchmark = traitlets.Float(19.0).tag(sync=True)
    label = traitlets.Unicode("{seconds}").tag(sync=True)
    reading_label = traitlets.Unicode("{seconds}").tag(sync=True)
    idle_label = traitlets.Unicode("").tag(sync=True)

    def restart(self, delay_s: float = 0.0) -> None:
        """Count from now (after `delay_s` seconds of reading allowance)."""
        self.delay_ms = int(round(max(0.0, delay_s) * 1000))
        self.running = True
        self.run += 1

    def stop(self) -> None:
        self.running = False


class ChatInput(anywidget.AnyWidget):
    """A text box: Enter sends (calls the handler given to on_send with the text), Shift+Enter is a new line.

    `value` follows what is typed; an input method's Enter that confirms a word never sends.
    """

    _esm = _INPUT_JS
    _css = _INPUT_CSS
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    hint = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    focus_count = traitlets.Int(0).tag(sync=True)
    clear_count = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._senders: list[Callable[[], object]] = []
        self.on_msg(self._message)

    def on_send(self, handler: Callable[[], object]) -> None:
        """Call `handler()` when the trainee presses Enter (after `value` holds the text)."""
        self._senders.append(handler)

    def focus(self) -> None:
        self.focus_count += 1

    def clear(self) -> None:
        """Empty the box (the reply was taken): the only way the kernel changes what the trainee sees in it."""
        self.value = ""
        self.clear_count += 1

    def _message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "send":
            self.value = str(content.get("text", ""))
            for handler in self._senders:
                handler()
