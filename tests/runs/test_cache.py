from __future__ import annotations

from pathlib import Path

from cotlens.runs.cache import CachedModel, CallCache, CallCounter
from cotlens.types import GenerationSettings, Message, Prompt
from fakes import ScriptedModel

P1 = Prompt((Message("user", "q1"),), "lead")
P2 = Prompt((Message("user", "q2"),), "lead")


def test_cache_answers_repeats_and_counts(tmp_path: Path) -> None:
    inner = ScriptedModel(lambda p: "A", lambda p: p.messages[0].content + "!")
    cache = CallCache(tmp_path / "c.sqlite")
    c1 = CallCounter()
    m = CachedModel(inner, cache, c1)
    s = GenerationSettings(8)
    assert m.generate([P1, P2, P1], s, 0) == ["q1!", "q2!", "q1!"]
    assert inner.calls == [("generate", 2)] and (c1.calls, c1.cached) == (2, 1)
    c2 = CallCounter()
    logged: list[tuple[str, int]] = []
    m2 = CachedModel(inner, CallCache(tmp_path / "c.sqlite"), c2, lambda meth, k, *tokens: logged.append((meth, k)))
    assert m2.generate([P2, P1], s, 0) == ["q2!", "q1!"]
    assert (c2.calls, c2.cached) == (0, 2) and logged == []
    # any change to settings, seed, model identity or prompt misses
    m2.generate([P1], GenerationSettings(9), 0)
    m2.generate([P1], s, 1)
    CachedModel(ScriptedModel(lambda p: "A", name="other"), cache, c2).generate([P1], s, 0)
    m2.generate([Prompt(P1.messages, "lead2")], s, 0)
    assert c2.calls == 4
    assert logged == [("generate", 1)] * 3


def test_score_choices_cached(tmp_path: Path) -> None:
    inner = ScriptedModel(lambda p: "B")
    m = CachedModel(inner, CallCache(tmp_path / "c.sqlite"))
    a = m.score_choices([P1], [("A", "B")])
    b = m.score_choices([P1], [("A", "B")])
    assert a == b and len(inner.calls) == 1
    m.score_choices([P1], [("A", "B", "C")])
    assert len(inner.calls) == 2
