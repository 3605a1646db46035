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

from cotlens.models.spec import smollm2_path
from cotlens.runs.runner import RunConfig, read_jsonl, run

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
