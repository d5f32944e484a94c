"""The LLM reader: a model classifies a reply into the same Signals as the rules reader.

Contract (issue 14): JSON output; every signal carries a quote that must occur in the reply (checked
on normalised text — a signal whose quote is not there is dropped); results cached by content; in exam
mode temperature 0 and a fixed seed; on any failure (network, status, malformed JSON, nothing usable)
the rules reading is returned, with a note. Gaming checks (stuffing, copying, grader-aimed text) and
`substance` always come from the rules reader: a model does not decide whether gamed text counts.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import OrderedDict
from typing import Any


from shifu.content import paths
from shifu.llm.client import chat, make_client
from shifu.llm.config import LLMConfig
from shifu.reading.phrases import normalize_map
from shifu.reading.signals import ReplyContext, Signals, Span, read_reply
from shifu.reading.vocab import Signal
from shifu.content.yamlio import Strict, load_model_cached

log = logging.getLogger("shifu.reading.readers.llm")

# Signals a model may report; gaming (stuffing) and timing (slow_reply) stay with the rules reader.
MODEL_SIGNALS = frozenset(s.value for s in Signal) - {"stuffing", "slow_reply", "policy_correct", "policy_wrong"}


class ReaderPrompt(Strict):
    system: str
    user: str



def load_prompt() -> ReaderPrompt:
    p = paths.grader_dir() / "reader_prompt.yaml"
    return load_model_cached(p, ReaderPrompt, guide="the comments at the top of grader/reader_prompt.yaml",
                             first_key="system")


class LLMReader:
    """A reader backed by an OpenAI-compatible endpoint. `client` may be injected (an openai.OpenAI)."""

    name = "llm"

    def __init__(self, config: LLMConfig, client: Any = None, cache_size: int = 2048):
        self.config = config
        if client is None:
            client = make_client(config, max_retries=config.max_retries)
        self._client = client
        self._cache: OrderedDict[str, Signals] = OrderedDict()
        self._cache_size = cache_size
        self.calls = 0
        self.fallbacks = 0

    # -- the reader interface ------------------------------------------------------------------
    def __call__(self, reply: str, ctx: ReplyContext) -> Signals:
        rules = read_reply(reply, ctx)
        if not isinstance(reply, str) or not reply.strip():
            return rules
        prompt = load_prompt()
        messages = self._messages(prompt, reply, ctx)
        key = hashlib.sha256(json.dumps([self.config.model, self.config.effective_temperature(), messages],
                                        ensure_ascii=False).encode("utf-8")).hexdigest()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        try:
            data = self._ask(messages)
            result = self._signals(data, reply, ctx, rules)
        except Exception as exc:  # any failure: the rules reading stands
            self.fallbacks += 1
            reason = self.config.redact(f"{type(exc).__name__}: {exc}")[:200]
            log.warning("LLM reader unavailable, rules reader used: %s", reason)
            return Signals(**{**_fields(rules), "notes": rules.notes + (f"llm reader fell back to rules: {reason}",)})
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    # -- talking to the model --------------------------------------------------------------------
    def _messages(self, prompt: ReaderPrompt, reply: str, ctx: ReplyContext) -> list[dict[str, str]]:
        sc = ctx.scenario
        limit = sc.context.limits.max_compensation_yuan
        fields = {
            "title": sc.title, "product": sc.context.product, "amount": f"{sc.context.amount_yuan:g}",
            "limit": "unknown" if limit is None else f"{limit:g} yuan",
            "accepts": "; ".join(f"{r.id}: {r.description}" for r in sc.accepts),
            "never": "; ".join(f"{r.id} ({r.kind}): {r.description}" for r in sc.never_offer) or "-",
            "facts": "; ".join(f"{f.id}: {f.fact}" for f in sc.hidden_facts) or "-",
            "history": " | ".join(ctx.history[-4:]) or "-",
            "buyer": ctx.buyer_message or "-", "reply": reply,
        }
        user = prompt.user
        for k, v in fields.items():
            user = user.replace("{" + k + "}", v)
        return [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]

    def _ask(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        self.calls += 1
        # one home for talking to endpoints: reasoning stripped, refused parameters adapted, roles conformed
        done = chat(self.config, messages, client=self._client, temperature=self.config.effective_temperature(),
                    seed=self.config.effective_seed(0), max_tokens=max(800, self.config.max_tokens or 0))
        text = done.text.strip()
        m = re.search(r"\{.*\}", text, re.S)  # tolerate a ```json fence around the object
        if not m:
            raise ValueError("no JSON object in the answer")
        data = json.loads(m.group(0))
        if not isinstance(data, dict) or not isinstance(data.get("signals"), list):
            raise ValueError("the answer has no `signals` list")
        return data

    # -- turning the answer into Signals ---------------------------------------------------------
    def _signals(self, data: dict[str, Any], reply: str, ctx: ReplyContext, rules: Signals) -> Signals:
        sc = ctx.scenario
        norm, where = normalize_map(reply)
        accepts = {r.id for r in sc.accepts}
        never = {r.id: r.kind for r in sc.never_offer}
        facts = {f.id for f in sc.hidden_facts}
        spans: list[Span] = []
        resolutions: set[str] = set()
        offers: set[str] = set()
        offer_spans: list[Span] = []
        dropped = 0
        for item in data["signals"]:
            if not isinstance(item, dict):
                continue
            name, quote = str(item.get("signal", "")), str(item.get("quote", ""))
            detail = str(item.get("detail") or "")
            if name not in MODEL_SIGNALS:
                continue
            qn = normalize_map(quote)[0].strip()
            at = norm.find(qn) if qn else -1
            if at < 0:
                dropped += 1  # a quote that is not in the reply is not evidence
                continue
            start, end = where[at], where[at + len(qn) - 1] + 1
            span = Span(Signal(name), reply[start:end], start, end, detail)
            if name == "solution":
                ids = {d.strip() for d in re.split(r"[,\s;]+", detail) if d.strip() in accepts}
                resolutions |= ids
                spans.extend(Span(Signal.solution, span.quote, start, end, i) for i in sorted(ids) or [""])
                continue
            if name in ("over_promise", "breach") and detail in never:
                offers.add(detail)
                offer_spans.append(span)
            spans.append(span)
        probed = {str(f) for f in data.get("probed_facts") or [] if str(f) in facts}
        if probed and not any(s.signal is Signal.probe for s in spans):
            spans.append(Span(Signal.probe, reply[:40], 0, min(len(reply), 40), sorted(probed)[0]))
        # gaming evidence and policy statements stay as the rules reader found them
        spans.extend(s for s in rules.spans if s.signal in (Signal.stuffing, Signal.policy_correct, Signal.policy_wrong))
        spans.sort(key=lambda s: (s.start, s.signal.value))
        notes = rules.notes + ((f"llm reader dropped {dropped} signal(s) whose quote is not in the reply",) if dropped else ())
        return Signals(spans=tuple(spans), probed_facts=frozenset(probed), resolutions=frozenset(resolutions),
                       forbidden_offers=frozenset(offers), policies_correct=rules.policies_correct,
                       policies_wrong=rules.policies_wrong, substance=rules.substance, injection=rules.injection,
                       notes=notes, offer_spans=tuple(offer_spans))


def _fields(sig: Signals) -> dict[str, Any]:
    return {f: getattr(sig, f) for f in sig.__dataclass_fields__}
