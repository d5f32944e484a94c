"""A real HTTP server on 127.0.0.1 that speaks /v1/chat/completions (JSON and SSE streaming) and
/v1/models, and behaves like the servers Shifu meets in practice — on demand.

Per request, scripted `actions` (then `default`) say what to answer:
  ("ok", text) · ("status", code) · ("slow", seconds, text) · ("hang", seconds) · ("malformed",) ·
  ("echo_auth", code) — an error body that repeats the Authorization header, as a careless proxy might.

Per server, `quirks` reproduce what real servers do (each is taken from their public bug threads):
  "max_completion_tokens"   400 to `max_tokens` (OpenAI o-series, gpt-5: "Use 'max_completion_tokens' instead")
  "default_temperature"     400 to a temperature other than 1 (same models)
  "no_seed"                 422 to `seed`, in FastAPI's detail-list shape (Mistral's API)
  "strict_fields"           400 to any body field it does not know, e.g. enable_thinking (OpenAI)
  "no_response_format"      400 to `response_format` (older local servers)
  "alternate"               400 unless roles alternate user/assistant starting with user (vLLM with a
                            Mistral/Llama-2 template); "alternate_500": the same as llama.cpp says it (HTTP 500)
  "no_system"               400 "System role not supported" (Gemma templates)
`think` puts `reasoning` into the answer the way reasoning models do:
  "full" <think>…</think>answer · "empty" <think>\n\n</think>\n\nanswer (Qwen3 no-think) ·
  "close_only" …</think>answer (DeepSeek-R1 template) · "field" reasoning_content next to content.
The token budget (`max_tokens` or `max_completion_tokens`, one character = one token) cuts the
answer with finish_reason "length", reasoning first — as a reasoning model spends it.
`models`: what GET /v1/models lists; a chat for another model answers 404 (Ollama's wording).
`key`: when set, a request without that bearer key gets 401. Only paths under /v1 exist: any other
path answers 404 "404 page not found", as Ollama's router does.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REASONING = "好的,用户让我扮演一个买家…我不能透露隐藏信息,比如包裹其实被送到了错误的驿站…"
KNOWN_FIELDS = {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
                "seed", "response_format", "top_p", "stop", "n", "user"}


class FakeLLM:
    def __init__(self, default: tuple = ("ok", "你们到底什么时候给我解决?"), chunk_chars: int = 4,
                 quirks: tuple[str, ...] | set[str] = (), think: str | None = None, reasoning: str = REASONING,
                 models: list[str] | None = None, key: str | None = None):
        self.actions: list[tuple] = []
        self.default = default
        self.chunk_chars = chunk_chars
        self.quirks = set(quirks)
        self.think = think
        self.reasoning = reasoning
        self.models = models
        self.key = key
        self.requests: list[dict[str, Any]] = []  # bodies of chat requests that reached the model
        self.refused: list[dict[str, Any]] = []  # bodies the quirks refused
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with owner._lock:
                    owner.paths.append(self.path)
                try:
                    owner._get(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.paths.append(self.path)
                    owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    owner._post(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (a timeout under test) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def root_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def __enter__(self) -> "FakeLLM":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- routing -------------------------------------------------------------------------------
    def _authorized(self, h: BaseHTTPRequestHandler) -> bool:
        if self.key is None or h.headers.get("authorization") == f"Bearer {self.key}":
            return True
        given = (h.headers.get("authorization") or "").removeprefix("Bearer ")
        shown = given[:3] + "*" * max(0, len(given) - 7) + given[-4:] if len(given) > 7 else "***"
        self._json(h, 401, {"error": {"message": f"Incorrect API key provided: {shown}. You can find your API key "
                                                 "at https://platform.openai.com/account/api-keys.",
                                      "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
        return False

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        if h.path.rstrip("/") != "/v1/models":
            self._raw(h, 404, b"404 page not found", "text/plain")
        elif self._authorized(h):
            ids = self.models if self.models is not None else ["fake-buyer"]
            self._json(h, 200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in ids]})

    def _post(self, h: BaseHTTPRequestHandler, body: dict) -> None:
        if h.path.rstrip("/") != "/v1/chat/completions":
            self._raw(h, 404, b"404 page not found", "text/plain")
            return
        if not self._authorized(h):
            return
        if self.models is not None and body.get("model") not in self.models:
            self._json(h, 404, {"error": {"message": f"model \"{body.get('model')}\" not found, try pulling it first",
                                          "type": "api_error", "param": None, "code": None}})
            return
        refusal = self._refusal(body)
        if refusal is not None:
            with self._lock:
                self.refused.append(body)
            self._json(h, *refusal)
            return
        with self._lock:
            self.requests.append(body)
            action = self.actions.pop(0) if self.actions else self.default
        self._serve(h, body, action)

    def _refusal(self, body: dict) -> tuple[int, dict] | None:
        q = self.quirks
        if "max_completion_tokens" in q and "max_tokens" in body:
            return 400, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                                              "Use 'max_completion_tokens' instead.", "type": "invalid_request_error",
                                   "param": "max_tokens", "code": "unsupported_parameter"}}
        if "default_temperature" in q and body.get("temperature", 1) != 1:
            return 400, {"error": {"message": f"Unsupported value: 'temperature' does not support {body['temperature']} "
                                              "with this model. Only the default (1) value is supported.",
                                   "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}}
        if "no_seed" in q and "seed" in body:
            return 422, {"object": "error", "message": {"detail": [{"type": "extra_forbidden", "loc": ["body", "seed"],
                                                                    "msg": "Extra inputs are not permitted",
                                                                    "input": body["seed"]}]},
                         "type": "invalid_request_error", "param": None, "code": None}
        if "strict_fields" in q:
            unknown = sorted(set(body) - KNOWN_FIELDS)
            if unknown:
                return 400, {"error": {"message": f"Unrecognized request argument supplied: {unknown[0]}",
                                       "type": "invalid_request_error", "param": None, "code": None}}
        if "no_response_format" in q and "response_format" in body:
            return 400, {"error": {"message": "response_format is not supported", "type": "invalid_request_error"}}
        roles = [m.get("role") for m in body.get("messages", [])]
        if "no_system" in q and "system" in roles:
            return 400, {"object": "error", "message": "System role not supported", "type": "BadRequestError",
                         "param": None, "code": 400}
        if q & {"alternate", "alternate_500"}:
            rest = roles[1:] if roles[:1] == ["system"] else roles
            if any(r != ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(rest)):
                text = "Conversation roles must alternate user/assistant/user/assistant/..."
                if "alternate_500" in q:
                    return 500, {"error": {"code": 500, "message": text, "type": "server_error"}}
                return 400, {"object": "error", "message": text, "type": "BadRequestError", "param": None, "code": 400}
        return None

    # -- responses -----------------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler, body: dict, action: tuple) -> None:
        kind = action[0]
        if kind == "status":
            self._json(h, action[1], {"error": {"message": f"fake error {action[1]}", "type": "server_error"}})
        elif kind == "echo_auth":
            self._json(h, action[1], {"error": {"message": f"bad key: {h.headers.get('authorization')}", "type": "auth"}})
        elif kind == "hang":
            time.sleep(action[1])
            self._json(h, 500, {"error": {"message": "too late"}})
        elif kind == "malformed":
            if body.get("stream"):
                self._sse_raw(h, [b"data: {this is not json\n\n", b"data: [DONE]\n\n"])
            else:
                self._raw(h, 200, b"<html>not json</html>", "text/html")
        elif kind == "slow":
            self._answer(h, body, action[2], delay=action[1])
        else:
            self._answer(h, body, action[1])

    def _shape(self, body: dict, text: str) -> tuple[str, str, str]:
        """(content, reasoning_content, finish_reason) for `text` under this server's reasoning habit and budget."""
        thought = self.reasoning if self.think else ""
        budget = body.get("max_tokens", body.get("max_completion_tokens"))
        finish = "stop"
        if budget is not None and len(thought) + len(text) > budget:
            finish = "length"
            if len(thought) >= budget:
                thought, text = thought[:budget], ""
            else:
                text = text[: budget - len(thought)]
        if self.think == "field":
            return text, thought, finish
        if self.think == "full":
            close = "</think>\n\n" if finish == "stop" or text else ""
            return f"<think>\n{thought}{close}{text}", "", finish
        if self.think == "empty":
            return f"<think>\n\n</think>\n\n{text}", "", finish
        if self.think == "close_only":
            return (f"{thought}\n</think>\n\n{text}" if text or finish == "stop" else thought), "", finish
        return text, "", finish

    def _answer(self, h: BaseHTTPRequestHandler, body: dict, text: str, delay: float = 0.0) -> None:
        model = body.get("model", "fake")
        content, thought, finish = self._shape(body, text)
        if not body.get("stream"):
            time.sleep(delay)
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thought:
                message["reasoning_content"] = thought
            self._json(h, 200, {"id": "x", "object": "chat.completion", "created": 0, "model": model,
                                "choices": [{"index": 0, "finish_reason": finish, "message": message}],
                                "usage": {"prompt_tokens": 10, "completion_tokens": len(thought) + len(text),
                                          "total_tokens": 10 + len(thought) + len(text)}})
            return
        n = self.chunk_chars

        def chunk(delta: dict, finish_reason: str | None = None) -> dict:
            return {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"reasoning_content": thought[i:i + n]}) for i in range(0, len(thought), n)]
        events += [chunk({"content": content[i:i + n]}) for i in range(0, len(content), n)]
        events.append(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [],
                           "usage": {"prompt_tokens": 10, "completion_tokens": len(thought) + len(text),
                                     "total_tokens": 10 + len(thought) + len(text)}})
        raw = [f"data: {json.dumps(e, ensure_ascii=False)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]
        self._sse_raw(h, raw, delay=delay)

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, code: int, obj: dict) -> None:
        FakeLLM._raw(h, code, json.dumps(obj, ensure_ascii=False).encode(), "application/json")

    @staticmethod
    def _raw(h: BaseHTTPRequestHandler, code: int, data: bytes, ctype: str) -> None:
        h.send_response(code)
        h.send_header("content-type", ctype)
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def _sse_raw(h: BaseHTTPRequestHandler, events: list[bytes], delay: float = 0.0) -> None:
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        for ev in events:
            if delay:
                time.sleep(delay / max(1, len(events)))
            h.wfile.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()
