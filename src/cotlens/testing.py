"""The backend conformance suite: what every ``Model`` must do for cotlens's metrics to mean what they say.

The shipped backends (transformers, organisms) pass these checks in cotlens's own tests; a third-party backend's
tests call them the same way (as lm-eval's model guide asks of a new model class)::

    import pytest
    from cotlens.testing import CHECKS, default_case

    @pytest.fixture(scope="module")
    def case():
        return default_case(MyBackend(...))

    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
    def test_conforms(case, check):
        check(case)

Each check raises ``AssertionError`` saying what the backend got wrong, and returns whether it applied: one that
needs a capability the backend does not declare (hidden states) returns False without checking. ``check_backend``
runs them all and returns what passed and what did not apply.

What is checked, and why each matters:

- identity and capabilities: the identity names spec, revision and dtype (it is part of every cache key and
  record); the basic capabilities are declared; ``count_tokens`` counts;
- batched scores equal one-by-one scores (within ``tolerance``), and are log-probabilities over the whole
  vocabulary (their exponentials sum to at most 1): batching and padding must not change an answer;
- greedy generation batched equals one by one, and does not depend on the seed: a record must not depend on
  which other records shared its batch;
- sampled generation is seeded per prompt: the same prompt and seed give the same text whatever else is in the
  batch and in whatever order (resampling importance relies on it);
- hidden states (white-box backends): float32 ``[layers + 1, tokens, width]``, finite, the same alone as beside
  another prompt, longer for a longer prompt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cotlens.models.base import COUNT_TOKENS, GENERATE, HIDDEN_STATES, SCORE_CHOICES, Model, has, names, require
from cotlens.prompts import answer_prompt, continue_prompt, elicit_prompt, no_cot_prompt
from cotlens.types import GenerationSettings, ModelIdentity, Sample


@dataclass(frozen=True)
class BackendCase:
    """A backend and the questions and CoTs it is checked on."""

    model: Model
    samples: Sequence[Sample]
    """At least three questions of one task."""
    cots: Sequence[str]
    """As many CoTs as samples, of increasing length: the first may be empty, the third must be longer than the
    second."""
    tolerance: float = 1e-4
    """Largest difference allowed between a log-probability scored in a batch and alone."""


def default_case(model: Model, task: str = "arithmetic", cots: Sequence[str] | None = None) -> BackendCase:
    """Four questions of a generated ``task`` (no download) and four CoTs for them."""
    from cotlens.tasks import load_task

    samples = load_task(task, 4, seed=1, difficulty=2)
    return BackendCase(model, samples, list(cots) if cots is not None else [
        "", "First add.", "Ava starts with some. Then she doubles them, so that is twice as many. " * 3, "Hm."])


def check_identity_and_capabilities(case: BackendCase) -> bool:
    m = case.model
    ident = m.identity
    assert isinstance(ident, ModelIdentity), f"identity is a {type(ident).__name__}, not a ModelIdentity"
    assert ident.spec and ident.revision and ident.dtype, f"identity leaves spec, revision or dtype empty: {ident}"
    missing = names(GENERATE, SCORE_CHOICES, COUNT_TOKENS) - m.capabilities
    assert not missing, f"capabilities lack {sorted(missing)}"
    n = m.count_tokens(case.cots[2])
    assert isinstance(n, int) and n > 0, f"count_tokens gave {n!r} for a non-empty text"

    return True

def check_scores_batched_equal_single(case: BackendCase) -> bool:
    m, samples = case.model, case.samples
    prompts = [answer_prompt(s, c) for s, c in zip(samples, case.cots, strict=True)] + [no_cot_prompt(samples[0])]
    letters = [s.letters for s in samples] + [samples[0].letters]
    batched = m.score_choices(prompts, letters)
    single = [m.score_choices([p], [le])[0] for p, le in zip(prompts, letters, strict=True)]
    for i, (b, s, le) in enumerate(zip(batched, single, letters, strict=True)):
        assert len(b) == len(le), f"prompt {i}: {len(b)} scores for {len(le)} letters"
        gap = max(abs(x - y) for x, y in zip(b, s, strict=True))
        assert gap < case.tolerance, f"prompt {i}: batched and single scores differ by {gap:.2g}"
        mass = sum(math.exp(x) for x in b)
        assert mass <= 1.0 + 1e-5, f"prompt {i}: the letters' probabilities sum to {mass:.4f} (not over the vocabulary)"

    return True

def check_greedy_batched_equal_single(case: BackendCase) -> bool:
    m, samples = case.model, case.samples
    settings = GenerationSettings(max_new_tokens=12)
    prompts = [elicit_prompt(s) for s in samples[:3]] + [continue_prompt(samples[0], case.cots[1])]
    batched = m.generate(prompts, settings, 0)
    single = [m.generate([p], settings, 0)[0] for p in prompts]
    assert batched == single, f"greedy text differs batched and alone: {batched} vs {single}"
    assert all(isinstance(t, str) and t.strip() for t in batched), f"empty or non-text generation: {batched}"
    assert m.generate(prompts, settings, 7) == batched, "greedy text depends on the seed"

    return True

def check_sampling_seeded_per_prompt(case: BackendCase) -> bool:
    m, samples = case.model, case.samples
    settings = GenerationSettings(max_new_tokens=8, temperature=1.0)
    p = [elicit_prompt(samples[0]), elicit_prompt(samples[1])]
    a = m.generate(p, settings, 5)
    assert m.generate(p[:1], settings, 5) == a[:1], "a sampled text changes when another prompt shares the batch"
    assert m.generate(p[::-1], settings, 5) == a[::-1], "a sampled text depends on its place in the batch"
    assert m.generate(p, settings, 5) == a, "the same prompts and seed sample different texts"

    return True

def check_hidden_states(case: BackendCase) -> bool:
    """White-box backends only (``HIDDEN_STATES``)."""
    if not has(case.model, HIDDEN_STATES):
        return False
    import numpy as np

    m = require(case.model, HIDDEN_STATES, "check_hidden_states")
    samples, cots = case.samples, case.cots
    prompts = [answer_prompt(samples[1], cots[1]), elicit_prompt(samples[0])]
    a, b = m.hidden_states(prompts)
    assert a.ndim == 3 and a.shape[0] == m.n_layers + 1, f"hidden states of shape {a.shape}, not [layers + 1, ...]"
    assert a.dtype == np.float32 and np.isfinite(a).all(), f"hidden states are {a.dtype} or not finite"
    assert b.shape[0] == a.shape[0] and b.shape[2] == a.shape[2], "two prompts' states differ in layers or width"
    assert np.array_equal(m.hidden_states(prompts[:1])[0], a), "a prompt's states change beside another prompt"
    longer = m.hidden_states([answer_prompt(samples[1], cots[2])])[0]
    assert longer.shape[1] > a.shape[1], "a longer CoT does not give a longer stream"
    return True


Check = Callable[[BackendCase], bool]
CHECKS: tuple[Check, ...] = (check_identity_and_capabilities, check_scores_batched_equal_single,
                             check_greedy_batched_equal_single, check_sampling_seeded_per_prompt, check_hidden_states)
"""Every check, in order."""


def check_backend(case: BackendCase) -> dict[str, str]:
    """Run every check; per check, "passed" or "not applicable" (an ``AssertionError`` propagates)."""
    return {check.__name__: "passed" if check(case) else "not applicable" for check in CHECKS}
