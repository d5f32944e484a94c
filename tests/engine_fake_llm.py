"""A real HTTP server on 127.0.0.1 that speaks /v1/chat/completions (JSON and SSE streaming) and
misbehaves on demand. Each request takes the next scripted action; when none is left, `default`.

Actions: ("ok", text) · ("status", code) · ("slow", seconds, text) · ("hang", seconds) ·
("malformed",) · ("echo_auth", code)  — the last answers with an error body that repeats the
Authorization header, the way a careless proxy might.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeLLM:
    def __init__(self, default: tuple = ("ok", "你们到底什么时候给我解决?"), chunk_chars: int = 4):
        self.actions: list[tuple] = []
        self.default = default
        self.chunk_chars = chunk_chars
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.requests.append(body)
                    owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                    action = owner.actions.pop(0) if owner.actions else owner.default
                try:
                    owner._serve(self, body, action)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (a timeout under test) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "FakeLLM":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

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

    def _answer(self, h: BaseHTTPRequestHandler, body: dict, text: str, delay: float = 0.0) -> None:
        model = body.get("model", "fake")
        if not body.get("stream"):
            time.sleep(delay)
            self._json(h, 200, {"id": "x", "object": "chat.completion", "created": 0, "model": model,
                                "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": text}}]})
            return
        pieces = [text[i:i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)] or [""]
        events = []
        for i, piece in enumerate(pieces):
            delta = {"content": piece} if i else {"role": "assistant", "content": piece}
            events.append({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model,
                           "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        events.append({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model,
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
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
