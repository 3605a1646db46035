"""``cotlens serve``: any cotlens model (the embedded one, an organism) as an OpenAI-compatible HTTP server, so that
other tools can evaluate it and cotlens's own API backend can be tested against a real server.

Endpoints (JSON; standard library ``http.server``, one thread per connection, model calls one at a time):

- ``GET /v1/models``: the model, named by its spec.
- ``POST /v1/chat/completions``: ``messages``, ``max_tokens``, ``temperature``, ``top_p``, ``seed``; a final
  assistant message with ``continue_final_message: true`` is continued (the reply's prefill, as vLLM does);
  ``logprobs: true`` with ``top_logprobs: k`` returns the next token's top-k log-probabilities (full precision);
  a one-token reply (``max_tokens: 1``) is the most likely token, or at a temperature a seeded draw from the top
  50 (an organism answers only with a choice letter this way: it writes no free text after an answer prompt).
- ``POST /v1/completions``: ``prompt`` as raw text (no chat template), the same options; ``logprobs: k`` returns
  the first token's top-k as OpenAI's legacy format does (``top_logprobs[0]``, a dict keyed by token text);
  ``echo`` is refused.
- ``POST /tokenize``: ``{"prompt": TEXT}`` -> ``{"count": N}`` (vLLM's route), the model's own token count.
- ``GET /cotlens/stats``: requests served per route (what the tests and the benchmark count).

``--latency S`` adds S seconds to every request (outside the model lock), to measure a client's concurrency.
Errors are JSON ``{"error": {"message": ...}}``: 400 for a bad request, 404 for an unknown route.
"""

from __future__ import annotations

import json
import math
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cotlens.models.base import RANKS_NEXT_TOKENS, Model, optional, unmarked
from cotlens.types import CotlensError, GenerationSettings, JsonObject, Message, Prompt


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    """The listen backlog (the standard library's 5 drops connections a concurrent client opens at once, and
    each dropped one waits a second for its SYN to be resent)."""

    def __init__(self, model: Model, name: str, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0
                 ) -> None:
        super().__init__((host, port), _Handler)
        self.model = model
        self.name = name
        self.latency = latency
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, daemon=True)
        t.start()
        return t

    # -- the work --------------------------------------------------------------------------------------------
    def _reply(self, prompt: Prompt, body: JsonObject, k: int, default_max: int
               ) -> tuple[str, list[tuple[str, float]] | None]:
        """The text for a request and, when ``k`` > 0, the first token's top-k: one token (``max_tokens: 1``) is
        read from the next-token distribution, anything longer is generated."""
        max_tokens = int(body.get("max_tokens") or default_max)
        temperature = float(body.get("temperature", 1.0))
        settings = GenerationSettings(max_new_tokens=max_tokens, temperature=temperature,
                                      top_p=float(body.get("top_p", 1.0)))
        seed = int(body.get("seed") or 0)
        ranks = optional(self.model, RANKS_NEXT_TOKENS)
        if k and ranks is None:
            raise CotlensError("this model cannot report log-probabilities")
        with self.lock:
            wanted = bool(k) or max_tokens == 1
            top = ranks.next_token_logprobs([prompt], max(ONE_TOKEN_K, k))[0] if ranks is not None and wanted else None
            if top is not None and max_tokens == 1:
                text = _one_token(top, temperature, seed, prompt)
            else:
                text = unmarked(self.model.generate([prompt], settings, seed))[0]
        return text, (top[:k] if top is not None and k else None)

    def chat(self, body: JsonObject) -> JsonObject:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise CotlensError("'messages' must be a non-empty list")
        try:
            messages = [Message(str(m["role"]), str(m["content"])) for m in msgs]
        except (KeyError, TypeError):
            raise CotlensError("each message needs 'role' and 'content'") from None
        prefill = ""
        if body.get("continue_final_message") and messages[-1].role == "assistant":
            prefill = messages.pop().content
        k = max(1, int(body.get("top_logprobs") or 1)) if body.get("logprobs") else 0
        text, top = self._reply(Prompt(tuple(messages), prefill), body, k, 256)
        choice: JsonObject = {"index": 0, "finish_reason": "stop", "logprobs": None,
                                  "message": {"role": "assistant", "content": text}}
        if top:
            choice["logprobs"] = {"content": [{"token": top[0][0], "logprob": top[0][1],
                                               "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}]}
        return {"id": f"cotlens-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                "model": self.name, "choices": [choice]}

    def completion(self, body: JsonObject) -> JsonObject:
        """``/v1/completions``: the prompt is raw text (no chat template), continued as it is."""
        text_in = body.get("prompt")
        if not isinstance(text_in, str):
            raise CotlensError("'prompt' must be a string (one prompt per request)")
        if body.get("echo"):
            raise CotlensError("'echo' is not supported: score the next token with 'logprobs' instead")
        text, top = self._reply(Prompt((), text_in), body, int(body.get("logprobs") or 0), 16)
        choice: JsonObject = {"index": 0, "finish_reason": "stop", "logprobs": None, "text": text}
        if top:
            choice["logprobs"] = {"tokens": [top[0][0]], "token_logprobs": [top[0][1]],
                                  "top_logprobs": [dict(top)], "text_offset": [0]}
        return {"id": f"cotlens-{time.time_ns()}", "object": "text_completion", "created": int(time.time()),
                "model": self.name, "choices": [choice]}

    def tokenize(self, body: JsonObject) -> JsonObject:
        text = body.get("prompt")
        if not isinstance(text, str):
            raise CotlensError("'prompt' must be a string")
        with self.lock:
            return {"count": self.model.count_tokens(text), "model": self.name}


ONE_TOKEN_K = 50
"""A one-token reply is drawn from the next token's top 50 (all an organism's choices; for a language model the
rest of the vocabulary is left out)."""


def _one_token(top: list[tuple[str, float]], temperature: float, seed: int, prompt: Prompt) -> str:
    """Greedy: the most likely token. Sampled: a draw from the top tokens at ``temperature``, seeded by (seed,
    prompt)."""
    if temperature <= 0:
        return top[0][0]
    weights = [math.exp((lp - top[0][1]) / temperature) for _, lp in top]
    rng = random.Random(f"{seed}:{json.dumps(prompt.to_dict())}")
    return rng.choices([t for t, _ in top], weights=weights)[0]


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and the client's delayed ACK
        # add about 40 ms to every reply
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, obj: JsonObject) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "type": "invalid_request_error"}})

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.server.counts[self.path] += 1
        if self.path == "/v1/models":
            models = [{"id": self.server.name, "object": "model", "owned_by": "cotlens"}]
            self._send(200, {"object": "list", "data": models})
        elif self.path == "/cotlens/stats":
            self._send(200, {"requests": dict(self.server.counts)})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        self.server.counts[self.path] += 1
        if self.server.latency:
            time.sleep(self.server.latency)
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise CotlensError("the body must be a JSON object")
            if self.path == "/v1/chat/completions":
                self._send(200, self.server.chat(body))
            elif self.path == "/v1/completions":
                self._send(200, self.server.completion(body))
            elif self.path == "/tokenize":
                self._send(200, self.server.tokenize(body))
            else:
                self._error(404, f"no route {self.path}")
        except json.JSONDecodeError as e:
            self._error(400, f"the body is not JSON: {e.msg}")
        except (CotlensError, ValueError, TypeError) as e:
            self._error(400, str(e))


def serve(spec: str, port: int, host: str = "127.0.0.1", dtype: str = "auto", latency: float = 0.0) -> None:
    from cotlens.models.spec import load_model

    server = ModelServer(load_model(spec, dtype=dtype), spec, host, port, latency)
    print(f"serving {spec} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
