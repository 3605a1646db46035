"""A dynamic batcher in front of a local backend: the model calls of records running in several threads are
gathered into full batches.

A run computes records one unit at a time, and a unit's calls are small (adding mistakes continues 4 CoTs at
a time where a local model's batch holds 8 or more; measured on SmolLM2 in float32: 17 new tokens/s at batch 1,
61 at batch 8, 125 at batch 32). With ``--concurrency K`` the runner computes K records at once, each in its
own thread (``Batcher.map``), every one calling the model through one ``Batcher``: a call waits until every
record still at work is waiting on the model too, then the waiting calls that can share a forward pass go to the
backend as one call (``generate`` calls with the same settings, and the same seed where they sample; all
``score_choices`` calls), the rest one by one. One thread at a time runs the backend, so nothing else about the
model needs to be thread-safe.

Which calls share a batch follows from the records' own order of calls (a call is sent only when no record can
add to it), so a run batches the same way every time. What a batch changes is only which prompts share a padded
forward pass: equal up to floating-point reduction order, so a greedy token or an argmax answer can differ only
where two candidates were within rounding of each other (a near-tie). Cache keys, records and resuming are those
of a run without it: the call cache sits above the batcher, per prompt.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from cotlens.models.base import LocalModel, Model
from cotlens.types import GenerationSettings, ModelIdentity, Prompt

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)  # calls are told apart by identity: two records may make the same call
class _Call:
    method: str
    key: Any
    """Calls of one method with equal keys share a backend call; None: alone."""
    args: tuple[Any, ...]
    size: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    order: int = 0
    """The place of the calling thread's item (``Batcher.map``): calls are taken and batched in this order."""
    result: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    """What the batcher did: backend calls made, and the record calls they served."""

    backend_calls: int = 0
    merged_calls: int = 0
    by_method: dict[str, list[int]] = field(default_factory=dict)
    """Per method, the number of prompts in each backend call."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Per method, the time the backend took."""


class Batcher:
    """A Model that gathers the calls of the threads ``map`` runs into batched backend calls."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self._cv = threading.Condition()
        self._pending: list[_Call] = []
        self._live = 0
        self._busy = False
        self._local = threading.local()
        self.stats = BatchStats()

    # -- the threads ---------------------------------------------------------------------------------------------
    def map(self, fn: Callable[[T], R], items: Sequence[T], workers: int) -> Iterator[R]:
        """``fn`` of each item, ``workers`` threads at a time, yielded as each finishes. The threads are counted
        before any starts, so that no call is sent until all of them wait (the first batch is as full as the
        rest); a thread leaves the count only when no item is left. Calls are ordered in a batch by their item's
        place in ``items``. The first error stops the threads taking items and is raised once they are done, after
        the items they finished meanwhile are yielded (a run keeps them: a budget stop loses no finished record)."""
        todo = deque(enumerate(items))
        done: queue.Queue[tuple[bool, Any]] = queue.Queue()
        lock = threading.Lock()
        stop = threading.Event()

        def work() -> None:
            try:
                while not stop.is_set():
                    with lock:
                        if not todo:
                            break
                        i, item = todo.popleft()
                    self._local.order = i
                    done.put((True, fn(item)))
            except BaseException as e:  # handed to the caller's thread
                stop.set()
                done.put((False, e))
            finally:
                with self._cv:
                    self._live -= 1
                    self._cv.notify_all()

        n = min(workers, len(items))
        with self._cv:
            self._live += n
        threads = [threading.Thread(target=work, daemon=True, name=f"cotlens-record-{j}") for j in range(n)]
        for t in threads:
            t.start()
        error: BaseException | None = None
        try:
            for _ in range(len(items)):
                ok, value = done.get()
                if not ok:
                    error = value
                    break
                yield value
        finally:
            stop.set()
            for t in threads:
                t.join()
        if error is not None:
            while not done.empty():
                ok, value = done.get_nowait()
                if ok:
                    yield value
            raise error

    def _call(self, method: str, key: Any, args: tuple[Any, ...], size: int,
              kwargs: dict[str, Any] | None = None) -> Any:
        call = _Call(method, key, args, size, kwargs or {}, order=getattr(self._local, "order", 0))
        with self._cv:
            self._pending.append(call)
            self._cv.notify_all()
            while not call.done:
                # the last live thread to wait sends what is waiting (one backend call at a time)
                if not self._busy and self._pending and len(self._pending) >= self._live:
                    self._busy = True
                    group = self._take()
                    self._cv.release()
                    try:
                        self._run(group)
                    finally:
                        self._cv.acquire()
                        self._busy = False
                        self._cv.notify_all()
                else:
                    self._cv.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def _take(self) -> list[_Call]:
        """The waiting call of the earliest item and those that can share its backend call, in item order (not
        the order the threads happened to arrive in: a run batches the same way every time)."""
        self._pending.sort(key=lambda c: c.order)
        first = self._pending[0]
        group = [c for c in self._pending if first.key is not None and c.method == first.method
                 and c.key == first.key] or [first]
        self._pending = [c for c in self._pending if all(c is not g for g in group)]
        return group

    def _run(self, group: list[_Call]) -> None:
        method = group[0].method
        self.stats.backend_calls += 1
        self.stats.merged_calls += len(group)
        self.stats.by_method.setdefault(method, []).append(sum(c.size for c in group))
        t0 = time.perf_counter()
        try:
            if len(group) == 1:
                group[0].result = getattr(self.inner, method)(*group[0].args, **group[0].kwargs)
            else:
                merge = _MERGE[method]
                merged = merge.join([c.args for c in group])
                out = getattr(self.inner, method)(*merged)
                at = 0
                for c in group:
                    c.result = out[at : at + c.size]
                    at += c.size
        except BaseException as e:  # every waiting call gets the error, as if it had made the call alone
            for c in group:
                c.error = e
        self.stats.seconds[method] = self.stats.seconds.get(method, 0.0) + time.perf_counter() - t0
        for c in group:
            c.done = True

    # -- the Model protocol --------------------------------------------------------------------------------------
    @property
    def identity(self) -> ModelIdentity:
        return self.inner.identity

    @property
    def capabilities(self) -> frozenset[str]:
        return self.inner.capabilities

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[str]:
        # a local backend's greedy decoding does not depend on the seed: greedy calls of any seed share a batch
        key = ("generate", settings, None if settings.temperature <= 0 else seed)
        return list(self._call("generate", key, (list(prompts), settings, seed), len(prompts)))

    def score_choices(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        return list(self._call("score_choices", "score_choices", (list(prompts), list(letters)), len(prompts)))

    def rollouts(self, prompts: Sequence[Prompt], settings: GenerationSettings,
                 seeds: Sequence[Sequence[int]]) -> list[list[str]]:
        """Several records' rollouts with the same settings in one backend call (shared decode batches)."""
        return list(self._call("rollouts", ("rollouts", settings), (list(prompts), settings, list(seeds)),
                               len(prompts)))

    def score_prefixes(self, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
        """Shared-prefix scoring of several records in one backend call (a backend packs them as prefix trees)."""
        return list(self._call("score_prefixes", "score_prefixes", (list(prompts), list(letters)), len(prompts)))

    def count_tokens(self, text: str) -> int:
        """The tokenizer only (no forward pass, so it does not wait for a batch), but never while the backend is
        running a call: a tokenizer is not safe to share between threads."""
        return int(self._alone(lambda: self.inner.count_tokens(text)))

    def prompt_tokens(self, prompt: Prompt) -> int:
        """A local backend's tokens for a rendered prompt (what a call is metered by), as ``count_tokens``."""
        return int(self._alone(lambda: cast(LocalModel, self.inner).prompt_tokens(prompt)))

    def _alone(self, fn: Callable[[], Any]) -> Any:
        with self._cv:
            while self._busy:
                self._cv.wait()
            self._busy = True
        try:
            return fn()
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()

    def __getattr__(self, name: str) -> Any:
        """Every other method of the backend (shared-prefix scoring, rollouts, white-box), one call at a time."""
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: self._call(name, None, args, 0, kwargs)


@dataclass(frozen=True)
class _Merge:
    join: Callable[[list[tuple[Any, ...]]], tuple[Any, ...]]


_MERGE = {
    "generate": _Merge(lambda calls: ([p for c in calls for p in c[0]], calls[0][1], calls[0][2])),
    "score_choices": _Merge(lambda calls: ([p for c in calls for p in c[0]], [x for c in calls for x in c[1]])),
    "rollouts": _Merge(lambda calls: ([p for c in calls for p in c[0]], calls[0][1], [s for c in calls for s in c[2]])),
    "score_prefixes": _Merge(lambda calls: ([p for c in calls for p in c[0]], [x for c in calls for x in c[1]])),
}
