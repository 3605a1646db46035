"""Shared fixtures. The embedded SmolLM2 is loaded once per session, in float32 (exact comparisons)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def smollm2_fp32():  # type: ignore[no-untyped-def]
    from cotlens.models.spec import load_model

    return load_model("smollm2", dtype="float32", batch_size=4)


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
