"""The call cache: one SQLite table of model answers, keyed on everything that determines them.

A key is the SHA-256 of the model's identity (spec, weights revision, dtype), the method, the full generation
settings, the seed and the exact prompt (lm-evaluation-harness once served one model's cached answers for
another because its key lacked the model). ``CachedModel`` wraps any backend with the same protocol: it asks
the backend only for prompts not yet cached, in one batch, and counts calls and hits for the record at hand.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotlens.models.base import (
    ABLATE,
    HIDDEN_STATES,
    ROLLOUTS,
    SCORE_PREFIXES,
    SERVED,
    Model,
    has,
    names,
    require,
    sample_rollouts,
)
from cotlens.paths import cache_root
from cotlens.runs.cost import Meter
from cotlens.types import GenerationSettings, JsonObject, ModelIdentity, Prompt

CACHE_FORMAT = 1


def cache_key(identity: ModelIdentity, method: str, payload: JsonObject) -> str:
    blob = json.dumps(
        {"format": CACHE_FORMAT, "model": identity.to_dict(), "method": method, **payload}, sort_keys=True
    ).encode()
    return hashlib.sha256(blob).hexdigest()


class CallCache:
    """A persistent key -> JSON value store in SQLite (safe to kill at any point: each put is committed)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # records computed in several threads share it: one connection, used under a lock
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
            "method TEXT, model TEXT, created REAL)"
        )
        self._db.commit()

    def get_many(self, keys: Sequence[str]) -> JsonObject:
        found: JsonObject = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                part = list(keys[i : i + 500])
                q = f"SELECT key, value FROM calls WHERE key IN ({','.join('?' * len(part))})"
                for k, v in self._db.execute(q, part):
                    found[k] = json.loads(v)
        return found

    def put_many(self, items: Sequence[tuple[str, Any]], method: str, model: str) -> None:
        now = time.time()
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?)",
                [(k, json.dumps(v), method, model, now) for k, v in items],
            )
            self._db.commit()

    def close(self) -> None:
        self._db.close()


def open_cache(option: str | None) -> CallCache | None:
    """The call cache a ``--cache`` option names: a file, None for the default
    ``$COTLENS_CACHE_DIR/calls.sqlite``, or ``none`` for no cache."""
    if option == "none":
        return None
    return CallCache(Path(option) if option else cache_root() / "calls.sqlite")


@dataclass
class CallCounter:
    """Counts, for one unit of work, the prompts sent to the backend and those answered by the cache."""

    calls: int = 0
    cached: int = 0


class CachedModel:
    """A Model that answers from a CallCache first and asks the wrapped backend only for misses.

    ``on_call(method, n_prompts, prompt_tokens, completion_tokens)`` is called for every request that reaches
    the backend (the runner logs them, so a test can prove a resumed run did not repeat finished work, and the
    summary says what the run spent). ``meter`` counts those tokens and refuses a request that could pass the
    run's token budget (``cotlens.runs.cost``): prompt tokens as the backend's tokenizer counts the rendered
    prompt (a served model: a character count / 4), completion tokens as it counts the text generated.
    """

    def __init__(
        self,
        model: Model,
        cache: CallCache | None,
        counter: CallCounter | None = None,
        on_call: Callable[[str, int, int, int], None] | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.inner = model
        self.cache = cache
        self.counter = counter or CallCounter()
        self.on_call = on_call
        self.meter = meter

    def with_counter(self, counter: CallCounter, on_call: Callable[[str, int, int, int], None] | None
                     ) -> CachedModel:
        return CachedModel(self.inner, self.cache, counter, on_call, self.meter)

    def tokens_of(self, prompts: Sequence[Prompt]) -> int:
        """The prompts' tokens as the backend reads them (a served model: estimated, characters / 4)."""
        exact = getattr(self.inner, "prompt_tokens", None)
        if exact is not None and not has(self.inner, SERVED):
            return sum(int(exact(p)) for p in prompts)
        return sum(round(sum(len(m.content) for m in p.messages) / 4 + len(p.prefill) / 4) for p in prompts)

    @property
    def identity(self) -> ModelIdentity:
        return self.inner.identity

    @property
    def capabilities(self) -> frozenset[str]:
        """The backend's, and ``rollouts`` (the backend's own, or ``generate`` once per seed)."""
        return self.inner.capabilities | names(ROLLOUTS)

    def count_tokens(self, text: str) -> int:
        if not has(self.inner, SERVED):
            return self.inner.count_tokens(text)  # local and cheap: not worth a cache entry
        [n] = self._cached("count_tokens", [{"text": text}], lambda idx: [self.inner.count_tokens(text)])
        return int(n)

    def _cached(
        self,
        method: str,
        payloads: list[JsonObject],
        compute: Callable[[list[int]], list[Any]],
        prompts: Sequence[Prompt] = (),
        max_new_tokens: int = 0,
    ) -> list[Any]:
        """The payloads' answers from the cache, the misses from ``compute`` (the indices of the payloads to
        compute). ``prompts`` (one a payload) are metered; ``max_new_tokens`` > 0 where the method generates."""
        ident = self.inner.identity
        keys = [cache_key(ident, method, p) for p in payloads]
        found = self.cache.get_many(keys) if self.cache is not None else {}
        # identical prompts within one request are computed once
        missing: dict[str, int] = {}
        for i, k in enumerate(keys):
            if k not in found and k not in missing:
                missing[k] = i
        self.counter.cached += len(keys) - len(missing)
        if missing:
            idx = list(missing.values())
            self.counter.calls += len(idx)
            served = has(self.inner, SERVED)
            tokens_in = self.tokens_of([prompts[i] for i in idx]) if prompts else 0
            bound = tokens_in + len(idx) * (max_new_tokens or (1 if served else 0))
            if self.meter is not None:
                self.meter.reserve(bound)
            spent = 0
            try:
                values = compute(idx)
                completion = (sum(self.count_tokens(v) for v in values if isinstance(v, str)) if max_new_tokens
                              else len(idx) if served else 0)
                spent = tokens_in + completion
            finally:
                if self.meter is not None:
                    self.meter.settle(bound, spent)
            if self.on_call is not None:
                self.on_call(method, len(idx), tokens_in, spent - tokens_in)
            new = [(keys[i], v) for i, v in zip(idx, values, strict=True)]
            if self.cache is not None:
                self.cache.put_many(new, method, ident.spec)
            found.update(dict(new))
        return [found[k] for k in keys]

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[str]:
        payloads = [{"prompt": p.to_dict(), "settings": settings.to_dict(), "seed": seed} for p in prompts]
        return self._cached(
            "generate", payloads, lambda idx: self.inner.generate([prompts[i] for i in idx], settings, seed),
            prompts, settings.max_new_tokens)

    def rollouts(self, prompts: Sequence[Prompt], settings: GenerationSettings,
                 seeds: Sequence[Sequence[int]]) -> list[list[str]]:
        """``Rollouts.rollouts``, each continuation cached under the key ``generate`` gives (prompt, settings,
        seed); the misses go to the backend in one call (``sample_rollouts``: its own rollouts where it has them)."""
        pairs = [(i, sd) for i, ss in enumerate(seeds) for sd in ss]
        payloads = [{"prompt": prompts[i].to_dict(), "settings": settings.to_dict(), "seed": sd} for i, sd in pairs]

        def compute(idx: list[int]) -> list[Any]:
            todo: dict[int, list[int]] = {}
            for j in idx:
                todo.setdefault(pairs[j][0], []).append(pairs[j][1])
            got = sample_rollouts(self.inner, [prompts[i] for i in todo], settings, list(todo.values()))
            found = {(i, sd): text for (i, ss), texts in zip(todo.items(), got, strict=True)
                     for sd, text in zip(ss, texts, strict=True)}
            return [found[pairs[j]] for j in idx]

        flat = iter(self._cached("generate", payloads, compute, [prompts[i] for i, _ in pairs],
                                 settings.max_new_tokens))
        return [[next(flat) for _ in ss] for ss in seeds]

    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        payloads = [{"prompt": p.to_dict(), "letters": list(ls)} for p, ls in zip(prompts, letters, strict=True)]
        return self._cached(
            "score_choices",
            payloads,
            lambda idx: self.inner.score_choices([prompts[i] for i in idx], [letters[i] for i in idx]),
            prompts)

    def score_prefixes(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        """Cached under its own method name: equal to ``score_choices`` only up to reduction order."""
        payloads = [{"prompt": p.to_dict(), "letters": list(ls)} for p, ls in zip(prompts, letters, strict=True)]
        return self._cached(
            "score_prefixes",
            payloads,
            lambda idx: require(self.inner, SCORE_PREFIXES, "score_prefixes").score_prefixes(
                [prompts[i] for i in idx], [letters[i] for i in idx]),
            prompts)

    def score_ablated(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]], cots: Sequence[str],
                      spans: Sequence[tuple[int, int]], layer: int, mode: str) -> list[list[float]]:
        payloads = [{"prompt": p.to_dict(), "letters": list(ls), "cot": c, "span": list(sp), "layer": layer,
                     "mode": mode} for p, ls, c, sp in zip(prompts, letters, cots, spans, strict=True)]
        return self._cached(
            "score_ablated",
            payloads,
            lambda idx: require(self.inner, ABLATE, "score_ablated").score_ablated(
                [prompts[i] for i in idx], [letters[i] for i in idx], [cots[i] for i in idx],
                [spans[i] for i in idx], layer, mode),
            prompts)

    def residuals_at(self, prompts: Sequence[Prompt], cots: Sequence[str], offsets: Sequence[Sequence[int]],
                     layers: Sequence[int]) -> list[Any]:
        """Not cached (arrays, not JSON answers): the record that holds them is the unit a resumed run keeps."""
        self.counter.calls += len(prompts)
        if self.on_call is not None:
            self.on_call("residuals_at", len(prompts), self.tokens_of(prompts), 0)
        return require(self.inner, HIDDEN_STATES, "residuals_at").residuals_at(prompts, cots, offsets, layers)

    @property
    def n_layers(self) -> int:
        return require(self.inner, HIDDEN_STATES, "n_layers").n_layers
