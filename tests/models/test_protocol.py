"""The Model protocol, checked the same way on every local backend: the transformers backend (embedded
SmolLM2, float32) and the organism backend (the shipped ``faithful`` organism)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from cotlens.models.base import COUNT_TOKENS, GENERATE, HIDDEN_STATES, SCORE_CHOICES, has, names
from cotlens.models.spec import load_model
from cotlens.organisms.model import shipped
from cotlens.prompts import answer_prompt, continue_prompt, elicit_prompt, no_cot_prompt
from cotlens.tasks import load_task
from cotlens.types import CotlensError, GenerationSettings

HAVE_ORGANISM = "faithful" in shipped()


@pytest.fixture(params=["smollm2", "organism:faithful"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "smollm2":
        samples = load_task("arithmetic", 4, seed=1, difficulty=2)
        cots = ["", "First add.", "Ava starts with some. Then she doubles them, so that is twice as many. " * 3, "Hm."]
        return {"model": request.getfixturevalue("smollm2_fp32"), "samples": samples, "cots": cots,
                "spec": "smollm2"}
    if not HAVE_ORGANISM:
        pytest.skip("the faithful organism is not shipped")
    samples = load_task("repeat3", 4, seed=1)
    cots = ["", "B=A+1=1.", "B=A+1=1. C=1+1=2.", "B=A+1=1. C=1+1=2. D=2+1=3."]
    return {"model": load_model("organism:faithful", batch_size=3), "samples": samples, "cots": cots,
            "spec": "organism:faithful"}


def test_identity_and_capabilities(backend: dict[str, Any]) -> None:
    m = backend["model"]
    ident = m.identity
    assert ident.spec == backend["spec"] and ident.dtype == "float32"
    assert ident.revision.startswith("sha256:") and len(ident.revision) == 71
    assert names(GENERATE, SCORE_CHOICES, COUNT_TOKENS) <= m.capabilities
    assert isinstance(m.count_tokens(backend["cots"][2]), int) and m.count_tokens(backend["cots"][2]) > 0


def test_batched_scores_equal_one_by_one(backend: dict[str, Any]) -> None:
    m, samples, cots = backend["model"], backend["samples"], backend["cots"]
    prompts = [answer_prompt(s, c) for s, c in zip(samples, cots, strict=True)] + [no_cot_prompt(samples[0])]
    letters = [s.letters for s in samples] + [samples[0].letters]
    batched = m.score_choices(prompts, letters)
    single = [m.score_choices([p], [le])[0] for p, le in zip(prompts, letters, strict=True)]
    for b, s, le in zip(batched, single, letters, strict=True):
        assert len(b) == len(le) and max(abs(x - y) for x, y in zip(b, s, strict=True)) < 1e-4
        assert float(torch.tensor(b).exp().sum()) <= 1.0 + 1e-5  # log-probabilities over the whole vocabulary


def test_greedy_generation_batched_equals_single(backend: dict[str, Any]) -> None:
    m, samples = backend["model"], backend["samples"]
    settings = GenerationSettings(max_new_tokens=12)
    prompts = [elicit_prompt(s) for s in samples[:3]] + [continue_prompt(samples[0], backend["cots"][1])]
    batched = m.generate(prompts, settings, 0)
    single = [m.generate([p], settings, 0)[0] for p in prompts]
    assert batched == single
    assert all(isinstance(t, str) and t.strip() for t in batched)
    assert m.generate(prompts, settings, 7) == batched  # greedy: the seed does not matter


def test_sampling_is_seeded_per_prompt(backend: dict[str, Any]) -> None:
    m, samples = backend["model"], backend["samples"]
    settings = GenerationSettings(max_new_tokens=8, temperature=1.0)
    p = [elicit_prompt(samples[0]), elicit_prompt(samples[1])]
    a = m.generate(p, settings, 5)
    assert m.generate(p[:1], settings, 5) == a[:1]
    assert m.generate(p[::-1], settings, 5) == a[::-1]
    assert m.generate(p, settings, 5) == a


def test_hidden_states(backend: dict[str, Any]) -> None:
    m, samples, cots = backend["model"], backend["samples"], backend["cots"]
    assert has(m, HIDDEN_STATES)
    prompts = [answer_prompt(samples[1], cots[1]), elicit_prompt(samples[0])]
    a, b = m.hidden_states(prompts)
    assert a.ndim == 3 and a.shape[0] >= 2 and a.dtype == np.float32 and np.isfinite(a).all()
    assert b.shape[0] == a.shape[0] and b.shape[2] == a.shape[2]
    assert np.array_equal(m.hidden_states(prompts[:1])[0], a)  # the same alone as beside another prompt
    # the last position's state decides the next token: a longer CoT gives a longer stream
    longer = m.hidden_states([answer_prompt(samples[1], cots[2])])[0]
    assert longer.shape[1] > a.shape[1]


def test_require_narrows_to_the_capability_or_fails_early() -> None:
    """Typed capabilities: ``require`` returns the model typed as the ability's protocol, or says who needs it."""
    from cotlens.models.base import ABLATE, RENDERS, WhiteBox, optional, require
    from fakes import ScriptedModel

    organism = load_model("organism:faithful")
    white: WhiteBox = require(organism, HIDDEN_STATES, "a probe")
    assert white is organism and white.n_layers == 3
    assert optional(organism, RENDERS) is None  # an organism has no chat template
    scripted = ScriptedModel(lambda p: "A")
    with pytest.raises(CotlensError, match="step_ablation needs the 'ablate' capability, which model scripted does "
                                           "not have"):
        require(scripted, ABLATE, "step_ablation")
    assert not has(scripted, HIDDEN_STATES)
