"""A fault-injecting HTTP proxy for tests: forwards requests to an upstream server, except that a seeded share
of them get a 429 (with Retry-After), a 500, a stall past the client's timeout, or a cut connection (the
request reaches the upstream, the response is dropped); optionally it strips the log-probabilities from every
reply, as a server without them would; it can pass itself off as another kind of server (``owned_by`` in
``/v1/models``) and it keeps every request body it forwards (``bodies``)."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

FAULTS = ("429", "500", "stall", "cut")


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, rate: float, seed: int = 0, stall: float = 3.0,
                 strip_logprobs: bool = False, owned_by: str | None = None, reasoning: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        u = urlparse(upstream)
        self.up_host, self.up_port = u.hostname or "127.0.0.1", u.port or 80
        self.rate, self.stall, self.strip_logprobs, self.owned_by = rate, stall, strip_logprobs, owned_by
        self.reasoning = reasoning
        self.bodies: list[tuple[str, dict[str, object]]] = []
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.auth: set[str] = set()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a stalled request: expected here

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def pick(self) -> str:
        with self.lock:
            r = self.rng.random()
            fault = FAULTS[int(r / self.rate * len(FAULTS))] if r < self.rate else "ok"
            self.counts[fault] += 1
            return fault


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _plain(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, method: str, body: bytes | None) -> tuple[int, bytes, str]:
        conn = http.client.HTTPConnection(self.server.up_host, self.server.up_port, timeout=60)
        headers = {"Content-Type": "application/json"}
        conn.request(method, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, data, r.getheader("Content-Type") or "application/json"

    def _handle(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
        if body:
            with self.server.lock:
                self.server.bodies.append((self.path, json.loads(body)))
        if self.headers.get("Authorization"):
            self.server.auth.add(self.headers["Authorization"])
        fault = self.server.pick()
        if fault == "429":
            self._plain(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "0"})
        elif fault == "500":
            self._plain(500, b"Internal Server Error")
        elif fault == "stall":
            time.sleep(self.server.stall)
            self.close_connection = True
        elif fault == "cut":
            self._forward(method, body)  # the upstream did the work; the client never hears
            self.close_connection = True
            self.connection.close()
        else:
            status, data, ctype = self._forward(method, body)
            if self.server.strip_logprobs and status == 200 and self.path.endswith("/chat/completions"):
                reply = json.loads(data)  # a server that ignores logprobs requests
                for c in reply.get("choices", []):
                    c["logprobs"] = None
                data = json.dumps(reply).encode()
            asked = json.loads(body) if body else {}
            if (self.server.reasoning and status == 200 and self.path.endswith("/chat/completions")
                    and not asked.get("logprobs")):
                # a hosted reasoning model's reply: what it generated comes back as a summary of its reasoning
                # (OpenRouter's reasoning_details), or withheld (encrypted) with the text left as the answer
                reply = json.loads(data)
                for c in reply.get("choices", []):
                    text = c["message"].get("content") or ""
                    if self.server.reasoning == "summary":
                        c["message"].update(content="", reasoning=text, reasoning_details=[
                            {"type": "reasoning.summary", "summary": text}])
                    else:
                        c["message"]["reasoning_details"] = [{"type": "reasoning.encrypted", "data": "gAAAA=="}]
                data = json.dumps(reply).encode()
            if self.server.owned_by is not None and status == 200 and self.path.endswith("/models"):
                reply = json.loads(data)
                for m in reply.get("data", []):
                    m["owned_by"] = self.server.owned_by
                data = json.dumps(reply).encode()
            self._plain(status, data, {"Content-Type": ctype})

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")
