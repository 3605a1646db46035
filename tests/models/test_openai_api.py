"""The openai: backend against real HTTP servers on loopback: ``cotlens serve`` itself, and the same server behind
a proxy that injects faults. (llama.cpp's server is the slow tier's job.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faultproxy import FaultProxy

from cotlens.metrics.adding_mistakes import AddingMistakesArgs
from cotlens.models.base import read_reasoning
from cotlens.models.openai_api import SAMPLING_FIELDS, ApiOptions, OpenAIModel, split_reasoning
from cotlens.models.spec import load_model
from cotlens.paths import cache_root
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.serve import ModelServer
from cotlens.types import CotlensError
from summaries import run_json as run

ORGANISM = "organism:faithful"
METRICS = ("early_answering", "adding_mistakes", "filler_tokens", "no_cot")
KEY = "sk-cotlens-planted-7d1e0c"


@pytest.fixture(scope="module")
def server() -> ModelServer:
    srv = ModelServer(load_model(ORGANISM), ORGANISM)
    srv.start()
    return srv


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a fresh probe file per test, but the one converted copy of SmolLM2 (converting it again costs about 40 s)
    converted = cache_root() / "converted"
    converted.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "converted").symlink_to(converted, target_is_directory=True)
    monkeypatch.setenv("COTLENS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COTLENS_API_KEY", KEY)


def config(out: Path, model: str, cache: str = "none", **kw: object) -> RunConfig:
    return RunConfig(model=model, task="repeat3", out=str(out), n=10, seed=5, max_new_tokens=60,
                     args={"adding_mistakes": AddingMistakesArgs("rule")}, metrics=METRICS, cache=cache, **kw)  # type: ignore[arg-type]


def test_reasoning_fields() -> None:
    assert split_reasoning({"reasoning": "A then B.", "content": "So (B)."}) == "A then B. So (B)."
    assert split_reasoning({"reasoning_content": "x", "content": "y"}) == "x y"
    assert split_reasoning({"content": "<think>add 2</think>The answer is 4."}) == "add 2 The answer is 4."


def test_reasoning_kinds_where_the_provider_says() -> None:
    kind, text = read_reasoning(split_reasoning({"content": "(B)", "reasoning": "short version",
                                                 "reasoning_details": [{"type": "reasoning.summary",
                                                                        "summary": "short version"}]}))
    assert (kind, text) == ("summary", "short version (B)")
    assert read_reasoning(split_reasoning({"content": "(B)", "reasoning_details": [
        {"type": "reasoning.encrypted", "data": "gAAA"}]})) == ("redacted", "(B)")
    raw = split_reasoning({"content": "(B)", "reasoning_details": [{"type": "reasoning.text", "text": "A, B."},
                                                                   {"type": "reasoning.summary", "summary": "s"}]})
    assert raw == "A, B. (B)" and read_reasoning(raw) == ("raw", raw)  # the raw text wins, and is unmarked
    assert read_reasoning(split_reasoning({"content": "x\x00y"})) == ("raw", "xy")  # no NUL survives from a model


@pytest.mark.parametrize("kind", ["summary", "redacted"])
def test_a_summary_or_withheld_reasoning_is_recorded_and_the_raw_cot_metrics_refuse_it(
        tmp_path: Path, server: ModelServer, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    """A provider that returns a summary of the reasoning (or withholds it): every trace says so, the metrics that
    cut, edit or measure the CoT refuse it before any call, in one line each; no_cot still runs."""
    proxy = FaultProxy(server.url, rate=0.0, reasoning=kind)
    out = tmp_path / "o"
    summary = run(config(out, f"openai:{ORGANISM}@{proxy.url}"), progress=False)
    traces = list(read_jsonl(out / "traces.jsonl"))
    assert {t["reasoning"] for t in traces} == {kind}
    records = list(read_jsonl(out / "records.jsonl"))
    for name in ("early_answering", "adding_mistakes", "filler_tokens"):
        mine = [r for r in records if r["metric"] == name]
        assert len(mine) == 10 and all(r["details"]["refused"] == kind and r["model_calls"] == 0 for r in mine)
        assert summary["metrics"][name]["n"] == 0
        note = summary["metrics"][name]["notes"][0]
        assert note.startswith(f"{name} scored 0 of 10 samples: refused: the CoT is ")
    assert summary["metrics"]["no_cot"]["n"] == 10
    err = capsys.readouterr().err
    assert err.count("early_answering scored 0 of 10 samples: refused") == 1
    html = (out / "report.html").read_text()
    assert "refused: the CoT is" in html and ("summary of the reasoning, not the reasoning" in html
                                               or "withheld the reasoning" in html)


def test_spec_errors() -> None:
    with pytest.raises(CotlensError, match="openai:MODEL@BASE_URL"):
        OpenAIModel("no-url", spec="openai:no-url")


def test_same_summary_as_in_process_and_cached_rerun_is_free(tmp_path: Path, server: ModelServer) -> None:
    local = run(config(tmp_path / "local", ORGANISM), progress=False)
    spec = f"openai:{ORGANISM}@{server.url}"
    before = sum(server.counts.values())
    api = run(config(tmp_path / "api", spec, cache=str(tmp_path / "calls.sqlite")), progress=False)
    assert sum(server.counts.values()) > before
    for name in METRICS:
        assert api["metrics"][name]["value"] == local["metrics"][name]["value"], name
        # a mean of probability differences (filler_gain) can move at 1e-12 with the server's batch composition
        # on some CPUs (seen on a 2-core EPYC with avx512_bf16, before and after 2026-12-08's changes)
        a, b = api["metrics"][name]["stats"], local["metrics"][name]["stats"]
        assert a.keys() == b.keys() and all(a[k]["n"] == b[k]["n"] for k in a), name
        for k in a:
            assert [a[k]["value"], *a[k]["ci"]] == pytest.approx([b[k]["value"], *b[k]["ci"]], abs=1e-9), (name, k)
    assert api["model"]["scoring"].startswith("top_logprobs") and api["model"]["tokens"] == "server"
    assert api["backend"]["requests"] > 0 and api["backend"]["letters_below_top_k"] == 0
    # a fully cached re-run, in a fresh directory: zero HTTP requests reach the server
    before = sum(server.counts.values())
    again = run(config(tmp_path / "api2", spec, cache=str(tmp_path / "calls.sqlite")), progress=False)
    assert sum(server.counts.values()) == before
    assert again["metrics"] == api["metrics"]


def test_faults_lose_and_duplicate_nothing(tmp_path: Path, server: ModelServer) -> None:
    clean = run(config(tmp_path / "clean", f"openai:{ORGANISM}@{server.url}"), progress=False)
    proxy = FaultProxy(server.url, rate=0.2, seed=1, stall=2.0)
    faulty = run(config(tmp_path / "faulty", f"openai:{ORGANISM}@{proxy.url}", api_timeout=1.0, api_retries=10),
                 progress=False)
    injected = {k: v for k, v in proxy.counts.items() if k != "ok"}
    assert set(injected) == {"429", "500", "stall", "cut"}, proxy.counts
    assert 0.1 < sum(injected.values()) / sum(proxy.counts.values()) < 0.3
    assert faulty["metrics"] == clean["metrics"]
    records = list(read_jsonl(tmp_path / "faulty" / "records.jsonl"))
    keys = [(r["metric"], r["sample_id"]) for r in records]
    assert len(keys) == len(set(keys)) == 10 * len(METRICS)  # zero lost, zero duplicated
    # the key was sent, and is nowhere in what the run wrote
    assert proxy.auth == {f"Bearer {KEY}"}
    for f in (tmp_path / "faulty").iterdir():
        assert KEY not in f.read_text(errors="replace"), f.name


def test_errors_name_the_server_not_the_key(tmp_path: Path, server: ModelServer) -> None:
    m = OpenAIModel(f"{ORGANISM}@{server.url}", spec="x")
    m._scoring, m._tokenize = "top_logprobs:20", True
    from cotlens.types import GenerationSettings, Message, Prompt

    with pytest.raises(CotlensError) as e:
        m.generate([Prompt((Message("user", "not the organism's task"),))], GenerationSettings(4), 0)
    assert "HTTP 400" in str(e.value) and KEY not in str(e.value)
    dead = OpenAIModel("m@http://127.0.0.1:9/v1", spec="y",
                       options=ApiOptions(retries=1, backoff=0.01, timeout=1.0))
    dead._scoring, dead._tokenize = "top_logprobs:20", False
    with pytest.raises(CotlensError, match="failed after 2 attempts") as e2:
        dead.generate([Prompt((Message("user", "hi"),))], GenerationSettings(4), 0)
    assert KEY not in str(e2.value)
    assert json.dumps(m.identity.to_dict()).find(KEY) == -1


def test_sampling_fallback_without_logprobs(tmp_path: Path, server: ModelServer) -> None:
    proxy = FaultProxy(server.url, rate=0.0, strip_logprobs=True)
    cfg = RunConfig(model=f"openai:{ORGANISM}@{proxy.url}", task="repeat3", out=str(tmp_path / "s"), n=6, seed=5,
                    max_new_tokens=60, metrics=("no_cot",), cache="none")
    summary = run(cfg, progress=False)
    assert summary["model"]["scoring"] == "sampling:20"
    local = run(RunConfig(**{**cfg.__dict__, "model": ORGANISM, "out": str(tmp_path / "l")}), progress=False)
    # the organism's answers are near-certain: 20 samples find the same answers as its log-probabilities
    assert summary["accuracy_with_cot"]["value"] == local["accuracy_with_cot"]["value"]
    assert summary["metrics"]["no_cot"]["value"] == local["metrics"]["no_cot"]["value"]


@pytest.mark.parametrize("owned_by,kind", [("vllm", "vllm"), ("sglang", "sglang"), ("me", "llama-cpp-python"),
                                           ("llamacpp", "llama.cpp"), ("a-hosted-api", "openai"), (None, "cotlens")])
def test_sampling_fields_follow_the_server(server: ModelServer, owned_by: str | None, kind: str) -> None:
    """Each request carries the neutral value of every knob the recognised server adds to OpenAI's fields, and
    top_p whenever it samples; the identity (so every record and cache key) says which were sent."""
    from cotlens.prompts import elicit_prompt
    from cotlens.tasks import load_task
    from cotlens.types import GenerationSettings

    proxy = FaultProxy(server.url, rate=0.0, owned_by=owned_by)
    m = OpenAIModel(f"{ORGANISM}@{proxy.url}", spec="x")
    m.prepare()
    assert m.identity.details["server"] == kind and m.identity.details["sampling_fields"] == SAMPLING_FIELDS[kind]
    prompt = elicit_prompt(load_task("repeat3", 1, seed=0)[0])
    proxy.bodies.clear()
    m.generate([prompt], GenerationSettings(max_new_tokens=8, temperature=0.0), 0)
    m.generate([prompt], GenerationSettings(max_new_tokens=8, temperature=0.7), 0)  # top_p 1: sent too
    greedy, sampled = (b for _, b in proxy.bodies)
    for body in (greedy, sampled):
        assert {k: body[k] for k in SAMPLING_FIELDS[kind]} == SAMPLING_FIELDS[kind]
    assert "top_p" not in greedy and sampled["top_p"] == 1.0 and sampled["temperature"] == 0.7
    if kind == "llama-cpp-python":
        assert greedy["repeat_penalty"] == 1.0 and greedy["top_k"] == 0 and greedy["min_p"] == 0.0
    if kind in ("vllm", "sglang"):
        assert greedy["repetition_penalty"] == 1.0 and greedy["top_k"] == -1
    forced = OpenAIModel(f"{ORGANISM}@{proxy.url}", spec="x", options=ApiOptions(server="openai"))
    forced.prepare()
    assert forced.identity.details["server"] == "openai" and forced.identity.details["sampling_fields"] == {}
    with pytest.raises(CotlensError, match="--api-server must be one of auto, llama.cpp"):
        OpenAIModel(f"{ORGANISM}@{proxy.url}", spec="x", options=ApiOptions(server="ollama"))


def test_token_rate_limit_waits() -> None:
    import asyncio
    import time

    from cotlens.models.openai_api import _TokenBucket

    async def go() -> float:
        bucket = _TokenBucket(120.0)  # 2 tokens a second, a full minute's worth to start with
        await bucket.take(120)
        t0 = time.monotonic()
        await bucket.take(3)
        return time.monotonic() - t0

    assert 1.3 < asyncio.run(go()) < 2.5


def test_smollm2_chat_and_completions_match_in_process(tmp_path: Path, smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    srv = ModelServer(smollm2_fp32, "smollm2")
    srv.start()
    base = dict(task="arithmetic", n=2, seed=0, max_new_tokens=16, dtype="float32", cache="none",
                metrics=("early_answering", "no_cot"))
    local = run(RunConfig(model="smollm2", out=str(tmp_path / "l"), **base), progress=False)  # type: ignore[arg-type]
    chat = run(RunConfig(model=f"openai:smollm2@{srv.url}", out=str(tmp_path / "c"), **base),  # type: ignore[arg-type]
               progress=False)
    comp = run(RunConfig(model=f"openai:smollm2@{srv.url}", out=str(tmp_path / "p"), api_template="smollm2",
                         **base), progress=False)  # type: ignore[arg-type]
    assert srv.counts["/v1/completions"] > 0 and comp["model"]["template"] == "smollm2"
    for s in (chat, comp):
        for name in ("early_answering", "no_cot"):
            assert s["metrics"][name]["value"] == local["metrics"][name]["value"]
            assert s["metrics"][name]["stats"] == local["metrics"][name]["stats"]
    cots = [[json.loads(x)["cot"] for x in (tmp_path / d / "traces.jsonl").read_text().splitlines()]
            for d in ("l", "c", "p")]
    assert cots[0] == cots[1] == cots[2]
    srv.shutdown()
