"""The API backend: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, ``cotlens serve``, hosted APIs).

``openai:MODEL@BASE_URL`` (``BASE_URL`` up to and including ``/v1``). The key, if the server needs one, is read
from the environment variable ``COTLENS_API_KEY`` (else ``OPENAI_API_KEY``); it is sent as a bearer token and
never written to identities, records, logs, reports or error messages.

Requests are made with ``httpx`` (the ``api`` extra: ``pip install 'cotlens[api]'``), asynchronously:

- at most ``concurrency`` requests in flight;
- each request has a ``timeout``; a 429, a 5xx, a timeout or a cut connection is retried up to ``retries`` times
  with exponential backoff (``backoff * 2**attempt`` seconds, capped at 30) and full jitter, honouring a
  ``Retry-After`` header; any other 4xx is an error reported with the server's message;
- an optional token-rate limit (``tokens_per_minute``), a token bucket charged with each request's prompt
  characters / 4 plus its ``max_tokens``.

Prompts: a prompt's messages go to ``/chat/completions``; its prefill (the start of the assistant's reply) is
sent as a final assistant message with ``continue_final_message: true`` and ``add_generation_prompt: false``
(vLLM's fields; ``cotlens serve`` honours them), so the model continues the reply as it does in-process. The CoT
is the reply's ``content``, after any reasoning the server returns separately (``reasoning`` or
``reasoning_content``) or inside ``<think>...</think>``: a model's reasoning is its CoT.

Scoring choices: the next token's log-probabilities (``max_tokens: 1``, ``logprobs: true``, ``top_logprobs: k``),
each letter's log-probability read from the top-k list. Before trusting it, the backend checks the server once
(``probe``): the list must come back, be sorted, hold probabilities that sum to at most 1, and its first token
must be what greedy decoding returns. A server that fails the check (or gives no log-probabilities) is scored by
sampling ``sample_k`` one-token answers at temperature 1 instead; ``identity["scoring"]`` says which method was
used, and it is part of every record and cache key. A letter missing from a top-k list gets the k-th
log-probability (an upper bound) and is counted in ``stats["letters_below_top_k"]``.

Token counts come from the server's ``/tokenize`` (vLLM, ``cotlens serve``) when it has one; otherwise they are
estimated as characters / 4, and ``identity["tokens"]`` says so.

Sampling fields: servers add sampling knobs of their own on top of OpenAI's, with defaults that are not neutral,
and apply them unless a request sets them: llama-cpp-python's server a repetition penalty of 1.1 (also at
temperature 0, so its "greedy" text is not the model's greedy text), ``top_k`` 40 and ``min_p`` 0.05; vLLM
(since 0.8) and SGLang the model's ``generation_config.json`` (Qwen's ``repetition_penalty`` 1.05, ``top_k`` 20,
...). So that temperature 0 means greedy and a sampled CoT means the stated temperature and top-p only, every
request carries the neutral value of each knob the server has (``SAMPLING_FIELDS``), and ``top_p`` whenever it
samples. The server is recognised once, by ``owned_by`` in ``/v1/models`` (``ApiOptions.server`` names it
instead), and ``identity`` records the server kind and the fields sent, so every record and cache key says what
was sent. A server not recognised (a hosted API, which may refuse fields it does not know) gets OpenAI's fields
only.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from cotlens.models.base import (
    COUNT_TOKENS,
    GENERATE,
    RENDERS,
    ROLLOUTS,
    SCORE_CHOICES,
    SERVED,
    Model,
    Renders,
    mark_reasoning,
    names,
    optional,
)
from cotlens.paths import cache_root
from cotlens.types import CotlensError, GenerationSettings, JsonObject, ModelIdentity, Prompt

KEY_ENV = ("COTLENS_API_KEY", "OPENAI_API_KEY")
SAMPLING_FIELDS: dict[str, JsonObject] = {
    # llama.cpp's own server (llama-server): every knob off (top_k 0 and top_n_sigma -1 disable; DRY, XTC and
    # mirostat off; typical_p 1)
    "llama.cpp": {"repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "top_k": 0,
                  "min_p": 0.0, "typical_p": 1.0, "top_n_sigma": -1.0, "dry_multiplier": 0.0,
                  "xtc_probability": 0.0, "mirostat": 0},
    # llama-cpp-python's server: its fields (top_k must be >= 0 there; 0 disables it)
    "llama-cpp-python": {"repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "top_k": 0,
                         "min_p": 0.0, "mirostat_mode": 0},
    # vLLM and SGLang: top_k -1 disables it in both (SGLang refuses 0)
    "vllm": {"repetition_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "top_k": -1,
             "min_p": 0.0},
    "sglang": {"repetition_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "top_k": -1,
               "min_p": 0.0},
    "cotlens": {},  # cotlens serve samples with temperature and top-p only
    "openai": {},  # anything else: OpenAI's own fields only
}
"""The neutral value of every sampling knob each kind of server adds to OpenAI's fields."""
OWNED_BY = {"llamacpp": "llama.cpp", "me": "llama-cpp-python", "vllm": "vllm", "sglang": "sglang",
            "cotlens": "cotlens"}
"""``owned_by`` in a server's ``/v1/models`` -> its kind."""
SERVERS = ("auto", *SAMPLING_FIELDS)
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)


@dataclass(frozen=True)
class ApiOptions:
    concurrency: int = 16
    """Requests in flight at most."""
    timeout: float = 120.0
    """Seconds per request before it is abandoned and retried."""
    retries: int = 8
    """Retries of a request after a 429, 5xx, timeout or cut connection."""
    backoff: float = 0.5
    """First retry delay in seconds (doubled each retry, with full jitter)."""
    tokens_per_minute: float = 0.0
    """Token-rate limit (0: none)."""
    top_logprobs: int = 20
    """k of the next-token top-k list used to score letters."""
    sample_k: int = 20
    """Answers sampled per prompt when the server's log-probabilities cannot be used."""
    server: str = "auto"
    """Which server's sampling fields to send (``SAMPLING_FIELDS``): ``auto`` recognises it by ``/v1/models``;
    ``openai`` sends OpenAI's fields only."""
    template: str = ""
    """A cotlens model spec whose chat template renders prompts here (``smollm2``, ``hf:PATH``), sent as text to
    ``/completions``: for servers that cannot continue a prefilled reply (llama.cpp). Empty: ``/chat/completions``
    with ``continue_final_message``."""


def api_key() -> str | None:
    for name in KEY_ENV:
        v = os.environ.get(name)
        if v:
            return v
    return None


def parse_spec(rest: str) -> tuple[str, str]:
    model, sep, url = rest.rpartition("@")
    if not sep or not model or not re.match(r"https?://", url):
        raise CotlensError(f"openai spec must be openai:MODEL@BASE_URL (http or https), got 'openai:{rest}'")
    return model, url.rstrip("/")


class _TokenBucket:
    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(per_minute, 1.0)
        self.tokens = self.capacity
        self.last = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, n: float) -> None:
        if self.rate <= 0:
            return
        n = min(n, self.capacity)
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)


class ApiError(CotlensError):
    """A request the server refused for good (not retried), or one that failed after every retry."""


def reasoning_field(message: JsonObject) -> tuple[str, str]:
    """(kind, text) of a chat message's separate reasoning, where the provider says what it is. OpenRouter-style
    ``reasoning_details`` items of type ``reasoning.text`` are raw reasoning, ``reasoning.summary`` a summary of
    it, ``reasoning.encrypted`` withheld ("redacted" where nothing readable comes with it); a bare ``reasoning``
    or ``reasoning_content`` field (vLLM, llama.cpp, DeepSeek) is raw."""
    plain = message.get("reasoning") or message.get("reasoning_content") or ""
    plain = plain if isinstance(plain, str) else ""
    details = message.get("reasoning_details")
    if isinstance(details, list) and details:
        parts = [d for d in details if isinstance(d, dict)]
        raw = [d["text"] for d in parts if d.get("type") == "reasoning.text" and isinstance(d.get("text"), str)]
        summary = [d["summary"] for d in parts
                   if d.get("type") == "reasoning.summary" and isinstance(d.get("summary"), str)]
        if raw:
            return "raw", " ".join(x.strip() for x in raw)
        if summary:
            return "summary", " ".join(x.strip() for x in summary)
        if any(d.get("type") == "reasoning.encrypted" for d in parts):
            return "redacted", ""
    return "raw", plain


def split_reasoning(message: JsonObject) -> str:
    """The CoT in a chat message: the server's separate reasoning field, then the content (``<think>`` blocks
    kept as text, their tags removed); marked (``mark_reasoning``) where the provider says the reasoning is a
    summary or withheld."""
    kind, reasoning = reasoning_field(message)
    content = message.get("content") or ""
    if "<think>" in content:
        inner = " ".join(m.strip() for m in _THINK.findall(content))
        content = (inner + " " + _THINK.sub("", content).strip()).strip()
    return mark_reasoning(kind, f"{reasoning.strip()} {content}".strip() if reasoning else content)


class RequestBackend:
    """What the backends that send one request per prompt share (``openai:``, ``inspect:``): ``generate`` and
    ``rollouts`` as requests in flight together, each one ``_complete``."""

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` to its end from the caller's thread."""
        raise NotImplementedError

    async def _complete(self, p: Prompt, max_tokens: int, temperature: float, seed: int = 0, top_p: float = 1.0,
                        logprobs: int = 0) -> tuple[str, list[tuple[str, float]] | None]:
        """One request: the text generated and, when ``logprobs`` > 0, the first token's top-k list."""
        raise NotImplementedError

    async def _gather(self, coros: Sequence[Awaitable[Any]]) -> list[Any]:
        return list(await asyncio.gather(*coros))

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[str]:
        async def one(p: Prompt) -> str:
            return (await self._complete(p, settings.max_new_tokens, settings.temperature, seed, settings.top_p))[0]

        texts: list[str] = self._run(self._gather([one(p) for p in prompts]))
        return texts

    def rollouts(self, prompts: Sequence[Prompt], settings: GenerationSettings,
                 seeds: Sequence[Sequence[int]]) -> list[list[str]]:
        """See ``ROLLOUTS``: one request per (prompt, seed), all in flight together (up to the concurrency)."""
        async def one(p: Prompt, seed: int) -> str:
            return (await self._complete(p, settings.max_new_tokens, settings.temperature, seed, settings.top_p))[0]

        flat = iter(self._run(self._gather([one(p, sd) for p, ss in zip(prompts, seeds, strict=True) for sd in ss])))
        return [[next(flat) for _ in ss] for ss in seeds]


class OpenAIModel(RequestBackend):
    """An OpenAI-compatible server behind the Model protocol."""

    def __init__(self, rest: str, *, spec: str, options: ApiOptions | None = None,
                 template: Model | None = None) -> None:
        """``template``: the model named by ``options.template``, loaded (``cotlens.models.spec`` does that)."""
        try:
            import httpx
        except ImportError:
            raise CotlensError("the openai: backend needs httpx: pip install 'cotlens[api]'") from None
        self._httpx = httpx
        self.model, self.base_url = parse_spec(rest)
        self.root = re.sub(r"/v1$", "", self.base_url)
        """Where servers put ``/tokenize`` (beside ``/v1``, not under it)."""
        self.options = options or ApiOptions()
        self.spec = spec
        self._scoring: str | None = None
        self._tokenize: bool | None = None
        if self.options.server not in SERVERS:
            raise CotlensError(f"--api-server must be one of {', '.join(SERVERS)}, got {self.options.server!r}")
        self._server: str | None = None if self.options.server == "auto" else self.options.server
        self.stats = {"requests": 0, "retries": 0, "letters_below_top_k": 0}
        self._local: Renders | None = optional(template, RENDERS) if template is not None else None
        if self.options.template:
            if self._local is None:
                raise CotlensError(f"--api-template {self.options.template!r}: not a transformers model")
            self._tokenize = False

    # -- identity and capabilities ---------------------------------------------------------------------------
    @property
    def identity(self) -> ModelIdentity:
        out = {"scoring": self._scoring or "unprobed", "tokens": "server" if self._tokenize else "estimate",
               "server": self._server or "unprobed", "sampling_fields": self.sampling_fields()}
        if self.options.template:
            out.update(template=self.options.template, tokens="template")
        return ModelIdentity(self.spec, f"api:{self.model}", "api", out)

    @property
    def capabilities(self) -> frozenset[str]:
        return names(GENERATE, SCORE_CHOICES, COUNT_TOKENS, SERVED, ROLLOUTS)

    def prepare(self, probe: Prompt | None = None) -> None:
        """Probe the server once (scoring method, tokenizer) so that the identity is final before any call.
        ``probe`` is an answer prompt the served model can answer (the runner passes one from the run's task;
        by default a two-choice question). The outcome is kept in ``$COTLENS_CACHE_DIR/api_probes.json``, keyed
        by URL and model, so that a fully cached re-run sends no request at all."""
        if self._scoring is not None and self._tokenize is not None and self._server is not None:
            return
        key = f"{self.base_url}|{self.model}|{self.options.template}|{self.options.server}"

        def probe_now() -> JsonObject:
            if self._server is None:  # first: the probe's requests carry the server's sampling fields
                self._server = self._run(self._probe_server())
            return {"scoring": self._run(self._probe(probe)), "tokenize": self._run(self._probe_tokenize()),
                    "server": self._server}

        known = remembered_probe(key, probe_now, lambda k: k.get("server") in SAMPLING_FIELDS)
        self._scoring, self._tokenize = str(known["scoring"]), bool(known["tokenize"])
        self._server = str(known["server"])

    # -- HTTP ------------------------------------------------------------------------------------------------
    def _run(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run(self._with_client(coro))

    async def _with_client(self, coro: Awaitable[Any]) -> Any:
        headers = {"Content-Type": "application/json"}
        key = api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        limits = self._httpx.Limits(max_connections=self.options.concurrency)
        async with self._httpx.AsyncClient(base_url=self.base_url, headers=headers, limits=limits,
                                           timeout=self.options.timeout) as client:
            self._client = client
            self._sem = asyncio.Semaphore(self.options.concurrency)
            self._bucket = _TokenBucket(self.options.tokens_per_minute)
            return await coro

    async def _post(self, path: str, body: JsonObject, cost: float) -> JsonObject:
        httpx = self._httpx
        o = self.options
        await self._bucket.take(cost)
        last = ""
        for attempt in range(o.retries + 1):
            wait: float | None = None
            async with self._sem:
                try:
                    self.stats["requests"] += 1
                    r = await self._client.post(path, json=body)
                except (httpx.TimeoutException, httpx.TransportError) as e:
                    last = f"{type(e).__name__}"
                else:
                    if r.status_code == 200:
                        try:
                            data: JsonObject = r.json()
                            return data
                        except ValueError:
                            last = "200 with a body that is not JSON"
                    elif r.status_code in RETRY_STATUS:
                        last = f"HTTP {r.status_code}"
                        ra = r.headers.get("retry-after")
                        if ra and re.fullmatch(r"\d+(\.\d+)?", ra.strip()):
                            wait = min(float(ra), 60.0)
                    else:
                        raise ApiError(f"{self.base_url}{path}: HTTP {r.status_code}: {_message(r.text)}")
            if attempt == o.retries:
                break
            self.stats["retries"] += 1
            await asyncio.sleep(wait if wait is not None else random.uniform(0, min(30.0, o.backoff * 2 ** attempt)))
        raise ApiError(f"{self.base_url}{path}: failed after {o.retries + 1} attempts (last: {last})")

    def _chat_body(self, prompt: Prompt, **kw: Any) -> JsonObject:
        msgs = [{"role": m.role, "content": m.content} for m in prompt.messages]
        body: JsonObject = {"model": self.model, "messages": msgs, **kw}
        if prompt.prefill:
            msgs.append({"role": "assistant", "content": prompt.prefill})
            body.update(continue_final_message=True, add_generation_prompt=False)
        return body

    @staticmethod
    def _cost(prompt: Prompt, max_tokens: int) -> float:
        return (sum(len(m.content) for m in prompt.messages) + len(prompt.prefill)) / 4 + max_tokens

    def sampling_fields(self) -> JsonObject:
        """The sampling fields every request carries beside OpenAI's (the server's knobs at their neutral values)."""
        return dict(SAMPLING_FIELDS[self._server or "openai"])

    async def _complete(self, p: Prompt, max_tokens: int, temperature: float, seed: int = 0, top_p: float = 1.0,
                        logprobs: int = 0) -> tuple[str, list[tuple[str, float]] | None]:
        """One request: the text generated and, when ``logprobs`` > 0, the first token's top-k list."""
        kw: JsonObject = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed,
                              **self.sampling_fields()}
        if temperature > 0:  # always: a server's own default top_p (0.95 in llama.cpp) would otherwise apply
            kw["top_p"] = top_p
        cost = self._cost(p, max_tokens)
        if self._local is None:
            if logprobs:
                kw.update(logprobs=True, top_logprobs=logprobs)
            data = await self._post("/chat/completions", self._chat_body(p, **kw), cost)
            try:
                choice = data["choices"][0]
                text = split_reasoning(choice["message"])
            except (KeyError, IndexError, TypeError):
                raise ApiError(f"{self.base_url}/chat/completions: a reply without choices[0].message") from None
            try:
                top = [(t["token"], float(t["logprob"])) for t in choice["logprobs"]["content"][0]["top_logprobs"]]
            except (KeyError, IndexError, TypeError):
                top = None
            return text, top
        if logprobs:
            kw["logprobs"] = logprobs
            eos = self._local.eos_token_id
            if eos is not None:  # llama.cpp returns nothing when EOS is the likeliest token; the bias forces one
                kw["logit_bias"] = {str(eos): -100}
        body = {"model": self.model, "prompt": self._local.render(p), **kw}
        data = await self._post("/completions", body, cost)
        try:
            choice = data["choices"][0]
            text = str(choice["text"])
        except (KeyError, IndexError, TypeError):
            raise ApiError(f"{self.base_url}/completions: a reply without choices[0].text") from None
        try:
            first = choice["logprobs"]["top_logprobs"][0]
            top = sorted(((str(t), float(v)) for t, v in first.items()), key=lambda x: -x[1])
        except (KeyError, IndexError, TypeError, AttributeError):
            top = None
        return text, top

    async def _top(self, p: Prompt) -> list[tuple[str, float]] | None:
        return (await self._complete(p, 1, 0.0, logprobs=self.options.top_logprobs))[1]

    async def _probe(self, probe: Prompt | None) -> str:
        from cotlens.prompts import probe_prompt

        p = probe or probe_prompt()
        top = await self._top(p)
        ok = bool(top) and trustworthy_top(top or [], (await self._complete(p, 1, 0.0))[0])
        return f"top_logprobs:{self.options.top_logprobs}" if ok else f"sampling:{self.options.sample_k}"

    async def _probe_server(self) -> str:
        """The kind of server, from ``owned_by`` in ``/v1/models`` (``openai`` when it says nothing known)."""
        try:
            data = await self._post_once(f"{self.base_url}/models", None)
        except Exception:
            return "openai"
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            return "openai"
        mine = [e for e in entries if isinstance(e, dict) and e.get("id") == self.model] or entries
        owner = mine[0].get("owned_by") if isinstance(mine[0], dict) else None
        return OWNED_BY.get(str(owner), "openai")

    async def _probe_tokenize(self) -> bool:
        try:
            data = await self._post_once(f"{self.root}/tokenize", {"model": self.model, "prompt": "a b"})
        except Exception:
            return False
        return isinstance(data, dict) and isinstance(data.get("count"), int)

    async def _post_once(self, path: str, body: JsonObject | None) -> JsonObject | None:
        """One request, no retry: a POST of ``body``, or a GET when it is None; the JSON reply if it is a 200."""
        r = await (self._client.get(path) if body is None else self._client.post(path, json=body))
        data: Any = r.json() if r.status_code == 200 else None
        return data if isinstance(data, dict) else None

    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        self.prepare()
        sampling = (self._scoring or "").startswith("sampling")

        async def one(p: Prompt, ls: Sequence[str]) -> list[float]:
            if sampling:
                return await self._sample_letters(p, ls)
            top = await self._top(p)
            if top is None:
                raise ApiError(f"{self.base_url}: the server stopped returning log-probabilities")
            scores, below = letters_from_top(top, ls)
            self.stats["letters_below_top_k"] += below
            return scores

        scores: list[list[float]] = self._run(self._gather([one(p, ls) for p, ls in zip(prompts, letters,
                                                                                         strict=True)]))
        return scores

    async def _sample_letters(self, p: Prompt, ls: Sequence[str]) -> list[float]:
        k = self.options.sample_k

        async def draw(i: int) -> str:
            return (await self._complete(p, 1, 1.0, seed=i))[0].strip()

        got = await asyncio.gather(*(draw(i) for i in range(k)))
        return letters_from_draws(got, ls)

    def count_tokens(self, text: str) -> int:
        if self._local is not None:
            return int(self._local.count_tokens(text))
        self.prepare()
        if not self._tokenize:
            return max(1, round(len(text) / 4)) if text else 0

        async def one() -> int:
            data = await self._post(f"{self.root}/tokenize", {"model": self.model, "prompt": text,
                                                     "add_special_tokens": False}, 0)
            return int(data["count"])

        return int(self._run(one()))


def trustworthy_top(top: Sequence[tuple[str, float]], greedy: str) -> bool:
    """Whether a next-token top-k list can score letters: sorted, log-probabilities that sum to at most 1, its first
    token what greedy decoding returns."""
    if not top:
        return False
    lps = [lp for _, lp in top]
    ok = all(a >= b - 1e-6 for a, b in zip(lps, lps[1:], strict=False)) and all(x <= 1e-6 for x in lps)
    return ok and sum(math.exp(x) for x in lps) <= 1.0 + 1e-3 and greedy.strip() == top[0][0].strip()


def letters_from_top(top: Sequence[tuple[str, float]], letters: Sequence[str]) -> tuple[list[float], int]:
    """Each letter's log-probability read from a top-k list (tokens stripped; the first match counts), and how
    many letters were not in it: those get the k-th log-probability, an upper bound."""
    found: dict[str, float] = {}
    for tok, lp in top:
        t = tok.strip()
        if t in letters and t not in found:
            found[t] = lp
    floor = min(lp for _, lp in top) if top else -100.0
    return [found.get(le, floor) for le in letters], sum(1 for le in letters if le not in found)


def letters_from_draws(drawn: Sequence[str], letters: Sequence[str]) -> list[float]:
    """Each letter's log-probability estimated from one-token answers sampled at temperature 1, add-half smoothed
    so that a letter never drawn keeps a finite log-probability."""
    k = len(drawn)
    return [math.log((sum(g == le for g in drawn) + 0.5) / (k + 0.5 * len(letters))) for le in letters]


def remembered_probe(key: str, probe: Callable[[], JsonObject],
                     valid: Callable[[JsonObject], bool] = lambda known: True) -> JsonObject:
    """A served model's probe outcome, kept in ``$COTLENS_CACHE_DIR/api_probes.json`` under ``key`` so that a fully
    cached re-run sends no request at all: the kept one when ``valid``, else ``probe()``'s, kept."""
    path = cache_root() / "api_probes.json"
    try:
        known = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        known = {}
    if key in known and isinstance(known[key], dict) and valid(known[key]):
        return dict(known[key])
    known[key] = {**probe(), "when": time.strftime("%Y-%m-%d")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(known, indent=1))
    tmp.replace(path)
    return dict(known[key])


def _message(text: str) -> str:
    """A server's error body, shortened; a bearer key it might echo is masked."""
    key = api_key()
    t = text.strip().replace("\n", " ")[:300]
    return t.replace(key, "***") if key else t
