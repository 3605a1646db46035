"""The dynamic batcher: calls of threads computing records meet in full batches (a scripted backend for the control
flow), and whole runs on an organism and on SmolLM2 with records computed concurrently give what one record at a
time gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from cotlens.metrics.adding_mistakes import AddingMistakesArgs
from cotlens.metrics.paraphrasing import ParaphrasingArgs
from cotlens.prompts import elicit_prompt
from cotlens.runs.batcher import Batcher
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.runs.runner import Run
from cotlens.tasks.arithmetic import generate as arithmetic
from cotlens.types import GenerationSettings
from fakes import ScriptedModel
from summaries import run_json as run


def test_calls_of_waiting_threads_share_one_backend_call() -> None:
    inner = ScriptedModel(lambda p: "A", lambda p: p.messages[0].content[-3:])
    b = Batcher(inner)
    prompts = [elicit_prompt(s) for s in arithmetic(6, 0)]
    out: dict[int, list[str]] = {}
    greedy = GenerationSettings(max_new_tokens=8)

    def work(i: int) -> int:
        out[i] = b.generate(prompts[2 * i : 2 * i + 2], greedy, seed=i)  # greedy: any seed shares a batch
        b.score_choices(prompts[i : i + 1], [("A", "B")])
        return i

    assert sorted(b.map(work, [0, 1, 2], workers=3)) == [0, 1, 2]
    assert inner.calls == [("generate", 6), ("score_choices", 3)]  # one backend call each, all prompts in it
    assert [x for i in range(3) for x in out[i]] == [inner.generate_fn(p) for p in prompts]
    assert b.stats.backend_calls == 2 and b.stats.merged_calls == 6
    # sampled calls share a batch only with the same seed; an error reaches every caller of the failed call
    inner.calls.clear()
    sampled = GenerationSettings(max_new_tokens=8, temperature=0.7)
    list(b.map(lambda seed: b.generate(prompts[:1], sampled, seed), [1, 1, 2], workers=3))
    assert inner.calls == [("generate", 2), ("generate", 1)]
    # an error reaches every caller of the failed call, and map raises it once its threads are done

    def fail(i: int) -> None:
        if i == 1:
            raise ValueError("record 1 broke")
        b.score_choices(prompts[:1], [("A", "B")])

    with pytest.raises(ValueError, match="record 1 broke"):
        list(b.map(fail, range(6), workers=3))
    assert b._live == 0


def test_concurrent_records_equal_one_at_a_time_on_an_organism(tmp_path: Path) -> None:
    def cfg(out: str, concurrency: int) -> RunConfig:
        return RunConfig(model="organism:faithful", task="repeat3", out=str(tmp_path / out), n=12, seed=2,
                         max_new_tokens=60, concurrency=concurrency, cache="none",
                         metrics=("early_answering", "adding_mistakes", "filler_tokens", "no_cot", "paraphrasing"),
                         args={"adding_mistakes": AddingMistakesArgs("rule"),
                               "paraphrasing": ParaphrasingArgs(paraphraser="rule")})
    one = run(cfg("one", 1), progress=False)
    many = run(cfg("many", 6), progress=False)
    assert many["metrics"] == one["metrics"]
    a = {(r["metric"], r["sample_id"]): r["values"] for r in read_jsonl(tmp_path / "one" / "records.jsonl")}
    b = {(r["metric"], r["sample_id"]): r["values"] for r in read_jsonl(tmp_path / "many" / "records.jsonl")}
    assert a == b


def test_concurrent_records_batch_smollm2_calls(tmp_path: Path) -> None:
    """On SmolLM2, concurrent records send fewer, fuller generate calls, and resume like any run."""
    cfg = RunConfig(model="smollm2", task="arithmetic", out=str(tmp_path / "r"), n=3, seed=1, dtype="float32",
                    max_new_tokens=12, difficulty=2, concurrency=3, batch_size=16, cache=str(tmp_path / "c.sqlite"),
                    metrics=("adding_mistakes", "no_cot"),
                    args={"adding_mistakes": AddingMistakesArgs(max_positions=2)})
    r = Run(cfg, progress=False)
    r.execute()
    assert r._batcher is not None
    sizes = r._batcher.stats.by_method["generate"]
    record_calls = [c for c in read_jsonl(tmp_path / "r" / "calls.jsonl")
                    if c["method"] == "generate" and not c["unit"].startswith("elicit")]
    assert len(sizes) - 1 < len(record_calls)  # (the elicitation is one call either way)
    again = Run(cfg, progress=False)
    again.execute()  # resumed: nothing left to compute
    assert [c for c in read_jsonl(tmp_path / "r" / "calls.jsonl") if c["attempt"] == 2] == []


def test_identical_calls_of_two_records_both_return() -> None:
    """Two records making the very same call (duplicate samples) each get an answer (calls are told apart by
    identity, not by their arguments)."""
    class Echo(ScriptedModel):
        def echo(self, x: int) -> int:
            self.calls.append(("echo", x))
            return x

    inner = Echo(lambda p: "A")
    b = Batcher(inner)
    assert list(b.map(lambda i: b.echo(7), range(4), workers=4)) == [7, 7, 7, 7]
    assert inner.calls == [("echo", 7)] * 4
