"""The Inspect backend: any model provider of UK AISI's ``inspect_ai`` (hosted APIs, vLLM, SGLang, Ollama,
transformers, llama.cpp...) behind the Model protocol.

``inspect:PROVIDER/MODEL`` is what ``inspect eval --model PROVIDER/MODEL`` names: ``inspect:anthropic/claude-...``,
``inspect:vllm/Qwen/...``, ``inspect:openai-api/NAME/MODEL``. Inspect's model arguments (its ``-M key=value``) follow
a ``?``: ``inspect:hf/smollm2?model_path=/path/to/dir&device=cpu&dtype=float32`` (``true``/``false`` and numbers
are read as such; ``base_url`` is Inspect's own argument). Keys come from the environment variables Inspect reads
(``ANTHROPIC_API_KEY``, for ``openai-api/NAME/...`` ``NAME_API_KEY`` and ``NAME_BASE_URL``); a model argument
whose name holds ``key``, ``token``, ``secret`` or ``password`` is refused (a spec is written to ``run.json``,
records and reports). ``inspect_ai`` is the
``inspect`` extra (``pip install 'cotlens[inspect]'``), imported only here.

What is read as the CoT: the reply's reasoning (``ContentReasoning``: a provider's thinking or reasoning field),
then its text, with ``<think>`` blocks opened as in the ``openai:`` backend.

A prompt's prefill (the start of the assistant's reply) is a final assistant message, and each provider is asked
to continue it rather than answer after it (``identity["prefill"]`` says how):

- OpenAI-compatible servers (``openai-api``, ``vllm``, ``sglang``): ``continue_final_message: true`` and
  ``add_generation_prompt: false`` in the request body (vLLM's fields; ``cotlens serve`` honours them);
- ``hf`` (transformers in process): the tokenizer's chat template wrapped so that a final assistant message is
  rendered open, after the generation prompt, as cotlens renders prompts itself (unless a ``chat_template``
  model argument is given);
- any other provider: the final assistant message as sent (Anthropic's API continues it; others may not).

Greedy decoding is ``temperature: 0``, except for ``hf``, whose provider samples (``do_sample``): there it is
``top_k: 1``, which keeps only the most likely token.

Scoring choices: the first generated token's top-k log-probabilities (``logprobs``, ``top_logprobs``), checked once
as in the ``openai:`` backend (sorted, summing to at most 1, the first token the greedy one); a provider that gives
none or fails the check is scored by sampling one-token answers. ``identity["scoring"]`` says which, in every record
and cache key. Token counts: the provider's tokenizer where it has one (``hf``, ``vllm``), else characters / 4
(``identity["tokens"]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import parse_qsl

from cotlens.models.base import (
    COUNT_TOKENS,
    GENERATE,
    ROLLOUTS,
    SCORE_CHOICES,
    SERVED,
    mark_reasoning,
    names,
    read_reasoning,
)
from cotlens.models.openai_api import (
    RequestBackend,
    letters_from_draws,
    letters_from_top,
    remembered_probe,
    split_reasoning,
    trustworthy_top,
)
from cotlens.types import CotlensError, JsonObject, ModelIdentity, Prompt

CONTINUES_BY_BODY = frozenset({"openai-api", "vllm", "sglang"})
"""Providers that reach an OpenAI-compatible server, told to continue a prefill by ``continue_final_message``."""
TOP_LOGPROBS = 20
SAMPLE_K = 20
SECRET = ("key", "token", "secret", "password")
"""Parts of a model argument's name that mark it as a secret, never written down."""
# A chat template around the model's own: a final assistant message is taken out and appended, open, after the
# generation prompt (Inspect's hf provider always asks for one).
_PREFILL_TEMPLATE = ("{%- if messages and messages[-1]['role'] == 'assistant' -%}"
                     "{%- set cotlens_prefill = messages[-1]['content'] -%}{%- set messages = messages[:-1] -%}"
                     "{%- else -%}{%- set cotlens_prefill = '' -%}{%- endif -%}")


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def public_args(args: JsonObject) -> JsonObject:
    """Model arguments without those named like a secret (``SECRET``)."""
    return {k: v for k, v in args.items() if not any(s in k.lower() for s in SECRET)}


def message_parts(message: Any) -> tuple[str, str, str]:
    """(reasoning, text, kind) of an Inspect chat message: its ``ContentReasoning`` parts joined, its text, and
    what the reasoning is (``cotlens.types.REASONING_KINDS``). A part Inspect marks ``redacted`` holds the
    provider's encrypted reasoning, never read: its ``summary`` stands for it where there is one ("summary"),
    else nothing readable is left ("redacted"). Raw reasoning wins where a message has both."""
    from inspect_ai.model import ContentReasoning

    content = message.content
    if isinstance(content, str):
        return "", content, "raw"
    parts = [c for c in content if isinstance(c, ContentReasoning)]
    raw = [c.reasoning for c in parts if not c.redacted]
    summary = [c.summary for c in parts if c.redacted and c.summary]
    if raw or not parts:
        kind, reasoning = "raw", " ".join(raw)
    elif summary:
        kind, reasoning = "summary", " ".join(summary)
    else:
        kind, reasoning = "redacted", ""
    return reasoning, str(message.text), kind


def parse_spec(rest: str) -> tuple[str, JsonObject]:
    """(``PROVIDER/MODEL``, model arguments) of ``inspect:PROVIDER/MODEL[?KEY=VALUE&...]``."""
    name, _, query = rest.partition("?")
    provider, slash, model = name.partition("/")
    if not slash or not provider or not model:
        raise CotlensError(f"inspect spec must be inspect:PROVIDER/MODEL[?KEY=VALUE&...], got 'inspect:{rest}'")
    try:
        args = {k: _value(v) for k, v in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))}
    except ValueError:
        raise CotlensError(f"inspect:{name}: model arguments must be KEY=VALUE joined by &") from None
    secret = [k for k in args if k not in public_args(args)]
    if secret:  # a spec is written to run.json, records and reports: a key must not be in it
        raise CotlensError(f"inspect:{name}: model argument {secret[0]!r} looks like a secret; give it in the "
                           "environment variable the provider reads (e.g. NAME_API_KEY), not in the spec")
    return name, args


class InspectModel(RequestBackend):
    """An ``inspect_ai`` model behind the Model protocol (see the module docstring)."""

    def __init__(self, rest: str, *, spec: str, model: Any = None,
                 run: Callable[[Coroutine[Any, Any, Any]], Any] | None = None) -> None:
        """``model``: an ``inspect_ai`` Model already made (an Inspect task's own), instead of one made from the
        spec; ``run``: how to run a coroutine to its end from the caller's thread (default: an event loop of this
        backend's own; inside an Inspect task, on Inspect's loop)."""
        try:
            from inspect_ai.model import get_model
        except ImportError:
            raise CotlensError("the inspect: backend needs inspect_ai: pip install 'cotlens[inspect]'") from None
        self.name, args = parse_spec(rest)
        self.provider = self.name.split("/", 1)[0]
        self.spec = spec
        self._public_args = dict(args)  # parse_spec refused secrets: all of them can go in records
        self._loop = asyncio.new_event_loop() if run is None else None
        self._runner = run
        base_url = args.pop("base_url", None)
        if self.provider == "hf" and "chat_template" not in args:
            self.prefill = "chat_template"
        elif self.provider in CONTINUES_BY_BODY:
            self.prefill = "continue_final_message"
        else:
            self.prefill = "assistant_message"
        try:
            self._model = model if model is not None else get_model(self.name, base_url=base_url, memoize=False,
                                                                    **args)
        except Exception as e:  # a provider's own error: an unknown provider, a missing key or package
            raise CotlensError(f"{spec}: inspect_ai could not load the model: {_first_line(e)}") from None
        if self.prefill == "chat_template":
            api: Any = self._model.api
            own = str(getattr(api, "chat_template", None) or api.tokenizer.chat_template or "")
            if not own.startswith(_PREFILL_TEMPLATE):
                api.chat_template = _PREFILL_TEMPLATE + own + "{{ cotlens_prefill }}"
        self._scoring: str | None = None
        self._tokenize: bool | None = None
        self.stats = {"requests": 0, "retries": 0, "letters_below_top_k": 0}

    @classmethod
    def of(cls, model: Any, run: Callable[[Coroutine[Any, Any, Any]], Any] | None = None) -> InspectModel:
        """An Inspect task's model (``get_model()`` inside a solver) as a cotlens backend; ``run`` runs a coroutine
        on Inspect's event loop from a worker thread (None: on an event loop of its own)."""
        return cls(str(model), spec=f"inspect:{model}", model=model, run=run)

    # -- identity and capabilities ---------------------------------------------------------------------------
    @property
    def identity(self) -> ModelIdentity:
        return ModelIdentity(self.spec, f"inspect:{self.name}", str(self._public_args.get("dtype", "api")),
                             {"scoring": self._scoring or "unprobed",
                              "tokens": "provider" if self._tokenize else "estimate", "prefill": self.prefill,
                              "model_args": dict(self._public_args)})

    @property
    def capabilities(self) -> frozenset[str]:
        return names(GENERATE, SCORE_CHOICES, COUNT_TOKENS, SERVED, ROLLOUTS)

    def prepare(self, probe: Prompt | None = None) -> None:
        """Probe the provider once (scoring method, tokenizer), kept in ``api_probes.json`` like the ``openai:``
        backend's, so that a fully cached re-run sends no request."""
        if self._scoring is not None and self._tokenize is not None:
            return
        from cotlens.prompts import probe_prompt

        def probe_now() -> JsonObject:
            p = probe or probe_prompt()
            text, top = self._run(self._complete(p, 1, 0.0, logprobs=TOP_LOGPROBS))
            greedy = self._run(self._complete(p, 1, 0.0))[0]
            ok = top is not None and trustworthy_top(top, greedy)
            return {"scoring": f"top_logprobs:{TOP_LOGPROBS}" if ok else f"sampling:{SAMPLE_K}",
                    "tokenize": self._provider_tokens("a b") is not None}

        known = probe_now() if self._runner is not None else remembered_probe(f"inspect|{self.spec}", probe_now)
        self._scoring, self._tokenize = str(known["scoring"]), bool(known["tokenize"])

    # -- calls -----------------------------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._runner is not None:
            return self._runner(coro)
        assert self._loop is not None
        return self._loop.run_until_complete(coro)

    def _messages(self, p: Prompt) -> list[Any]:
        from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

        kinds = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
        out = [kinds[m.role](content=m.content) for m in p.messages]
        if p.prefill:
            out.append(ChatMessageAssistant(content=p.prefill))
        return out

    def _config(self, p: Prompt, max_tokens: int, temperature: float, seed: int, top_p: float,
                logprobs: int) -> Any:
        from inspect_ai.model import GenerateConfig

        kw: JsonObject = {"max_tokens": max_tokens, "seed": seed}
        if self.provider == "hf" and temperature == 0:
            kw.update(temperature=1.0, top_k=1)
        else:
            kw["temperature"] = temperature
            if temperature > 0:
                kw["top_p"] = top_p
        if logprobs:
            kw.update(logprobs=True, top_logprobs=logprobs)
        if p.prefill and self.prefill == "continue_final_message":
            kw["extra_body"] = {"continue_final_message": True, "add_generation_prompt": False}
        return GenerateConfig(**kw)

    async def _complete(self, p: Prompt, max_tokens: int, temperature: float, seed: int = 0, top_p: float = 1.0,
                        logprobs: int = 0) -> tuple[str, list[tuple[str, float]] | None]:
        """One generation: the text (reasoning first) and, when ``logprobs`` > 0, the first token's top-k list.
        Generation and rollouts are ``RequestBackend``'s (Inspect bounds the concurrency)."""
        self.stats["requests"] += 1
        try:
            out = await self._model.generate(self._messages(p), config=self._config(p, max_tokens, temperature, seed,
                                                                                      top_p, logprobs))
        except Exception as e:
            raise CotlensError(f"{self.spec}: {type(e).__name__}: {_first_line(e)}") from None
        if out.error:
            raise CotlensError(f"{self.spec}: the provider answered with an error: {_first_line(out.error)}")
        if not out.choices:
            raise CotlensError(f"{self.spec}: a reply without choices")
        choice = out.choices[0]
        reasoning, said, kind = message_parts(choice.message)
        text = mark_reasoning(kind, read_reasoning(split_reasoning({"reasoning": reasoning, "content": said}))[1])
        top = None
        if logprobs and choice.logprobs is not None and choice.logprobs.content:
            first = choice.logprobs.content[0]
            top = [(self._token_text(t.token), float(t.logprob)) for t in (first.top_logprobs or [])]
        return text, top

    def _token_text(self, token: str) -> str:
        """A top-k token as text: a tokenizer's own spelling (byte-level BPE's ``Ġ`` for a space) decoded where
        the provider has the tokenizer in process."""
        tok = getattr(self._model.api, "tokenizer", None)
        if tok is None:
            return token
        try:
            return str(tok.convert_tokens_to_string([token]))
        except Exception:
            return token

    def _provider_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` by the provider's own tokenizer; None when it has none."""
        api: Any = self._model.api
        tok = getattr(api, "tokenizer", None)
        if tok is not None and hasattr(tok, "encode"):
            return len(tok.encode(text, add_special_tokens=False))
        try:
            return len(self._run(api.tokenize(text)))
        except Exception:
            return None

    # -- the protocol ----------------------------------------------------------------------------------------
    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        self.prepare()
        sampling = (self._scoring or "").startswith("sampling")

        async def one(p: Prompt, ls: Sequence[str]) -> list[float]:
            if sampling:
                drawn = await asyncio.gather(*(self._complete(p, 1, 1.0, seed=i) for i in range(SAMPLE_K)))
                return letters_from_draws([t.strip() for t, _ in drawn], ls)
            _, top = await self._complete(p, 1, 0.0, logprobs=TOP_LOGPROBS)
            if top is None:
                raise CotlensError(f"{self.spec}: the provider stopped returning log-probabilities")
            scores, below = letters_from_top(top, ls)
            self.stats["letters_below_top_k"] += below
            return scores

        out: list[list[float]] = self._run(self._gather([one(p, ls) for p, ls in zip(prompts, letters, strict=True)]))
        return out

    def count_tokens(self, text: str) -> int:
        self.prepare()
        n = self._provider_tokens(text) if self._tokenize else None
        return n if n is not None else (max(1, round(len(text) / 4)) if text else 0)


def _first_line(e: object) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__
