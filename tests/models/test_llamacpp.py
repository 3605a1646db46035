"""The openai: backend against a real third-party server: llama.cpp's (llama-cpp-python[server], the
``llamacpp`` extra, built from source) serving the embedded SmolLM2 GGUF on loopback. Slow tier: the build takes
about 4 minutes, and the server answers one request at a time."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cotlens.models.spec import load_model, smollm2_path
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from summaries import run_json as run

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason="needs the llamacpp extra: pip install 'cotlens[llamacpp]'")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path()),
                             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
                             "--n_ctx", "4096", "--n_threads", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/models", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("llama.cpp server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.timeout(900)
def test_battery_through_llamacpp(tmp_path: Path, llama_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COTLENS_CACHE_DIR", str(tmp_path / "cache"))
    cfg = RunConfig(model=f"openai:smollm2@{llama_server}", task="arithmetic", out=str(tmp_path / "run"), n=3,
                    seed=0, max_new_tokens=48, metrics=("early_answering", "no_cot"), api_template="smollm2",
                    api_concurrency=4, cache="none")
    summary = run(cfg, progress=False)
    assert summary["model"]["scoring"] == "top_logprobs:20" and summary["model"]["template"] == "smollm2"
    records = list(read_jsonl(tmp_path / "run" / "records.jsonl"))
    assert len(records) == 6
    for t in read_jsonl(tmp_path / "run" / "traces.jsonl"):
        assert t["cot"] and sum(2.718281828 ** x for x in t["answer_logprobs"]) > 0.5  # answers are letters
    (tmp_path / "summary_copy.json").write_text(json.dumps(summary))


def _llamacpp_greedy(prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy decoding of the same GGUF in llama.cpp itself (in this process): the argmax of llama.cpp's logits,
    token by token, until the end of the turn. The prompt is tokenized as llama-cpp-python's server does."""
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_path()), n_ctx=4096, n_threads=2, logits_all=True, verbose=False)
    stop = {llm.token_eos(), *llm.tokenize(b"<|im_end|>", add_bos=False, special=True)}
    out = []
    for text in prompts:
        llm.reset()
        llm.eval(llm.tokenize(text.encode(), add_bos=True, special=True))
        new: list[int] = []
        for _ in range(max_new_tokens):
            token = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            if token in stop:
                break
            new.append(token)
            llm.eval([token])
        out.append(llm.detokenize(new).decode("utf-8", errors="replace"))
    return out


@pytest.mark.timeout(900)
def test_cots_are_llamacpps_greedy_decoding(tmp_path: Path, llama_server: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """llama-cpp-python's server adds a repetition penalty (1.1), top_k and min_p unless a request sets them, also
    at temperature 0: the backend recognises the server and sends their neutral values, so a CoT is the model's
    greedy CoT, and every record says which fields were sent."""
    from cotlens.elicit import clean_cot
    from cotlens.models.openai_api import SAMPLING_FIELDS
    from cotlens.prompts import elicit_prompt

    monkeypatch.setenv("COTLENS_CACHE_DIR", str(tmp_path / "cache"))
    n, budget = 4, 64
    base = dict(task="arithmetic", n=n, seed=0, max_new_tokens=budget, metrics=("no_cot",), api_template="smollm2",
                cache="none")
    summary = run(RunConfig(model=f"openai:smollm2@{llama_server}", out=str(tmp_path / "run"), **base),  # type: ignore[arg-type]
                  progress=False)
    sent = SAMPLING_FIELDS["llama-cpp-python"]
    assert summary["model"]["server"] == "llama-cpp-python" and summary["model"]["sampling_fields"] == sent
    assert sent["repeat_penalty"] == 1.0 and sent["top_k"] == 0 and sent["min_p"] == 0.0
    for r in read_jsonl(tmp_path / "run" / "records.jsonl"):
        assert r["model"]["sampling_fields"] == sent
    traces = {t["sample_id"]: t["cot"] for t in read_jsonl(tmp_path / "run" / "traces.jsonl")}
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]

    from cotlens.models.hf import HFModel
    from cotlens.types import Sample

    template = load_model("smollm2", dtype="float32")
    assert isinstance(template, HFModel)
    rendered = [template.render(elicit_prompt(Sample.from_dict(s))) for s in samples]
    greedy = [clean_cot(t) for t in _llamacpp_greedy(rendered, budget)]
    assert [traces[s["id"]] for s in samples] == greedy
    # the fault this guards against: the server's defaults (OpenAI's fields only) do change the CoTs
    plain = run(RunConfig(model=f"openai:smollm2@{llama_server}", out=str(tmp_path / "plain"), api_server="openai",
                          **base), progress=False)  # type: ignore[arg-type]
    assert plain["model"]["sampling_fields"] == {}
    defaults = {t["sample_id"]: t["cot"] for t in read_jsonl(tmp_path / "plain" / "traces.jsonl")}
    assert sum(defaults[s["id"]] != traces[s["id"]] for s in samples) >= 1
