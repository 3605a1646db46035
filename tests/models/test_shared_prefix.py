"""Shared-prefix scoring: every truncation point of a CoT in one forward pass gives the log-probabilities the
prompts give one by one (fp32: within 1e-4), also for prompts that share little or nothing."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cotlens.elicit import join_steps, split_steps
from cotlens.models.base import SCORE_PREFIXES, has
from cotlens.models.hf import HFModel
from cotlens.prompts import answer_prompt
from cotlens.tasks import load_task
from cotlens.types import Prompt


def one_by_one(m: HFModel, prompts: Sequence[Prompt], letters: Sequence[Sequence[str]]) -> list[list[float]]:
    """The reference: each prompt alone, in a plain forward pass of transformers' model (no padding, no tree)."""
    out = []
    with torch.inference_mode():
        for p, ls in zip(prompts, letters, strict=True):
            logits = m.model(input_ids=torch.tensor([m.encode_prompt(p)])).logits[0, -1].float()
            logp = torch.log_softmax(logits, -1)
            out.append([float(logp[m.letter_id(le)]) for le in ls])
    return out


COT = " ".join(f"Step {i}: {i} plus {i + 1} makes {2 * i + 1}." for i in range(12))


def test_truncation_points_match_naive(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    m = smollm2_fp32
    assert has(m, SCORE_PREFIXES)
    s = load_task("arithmetic", 1, 0)[0]
    steps = split_steps(COT)
    prompts = [answer_prompt(s, join_steps(COT, steps, k)) for k in range(len(steps) + 1)]
    letters = [s.letters] * len(prompts)
    packed, naive = m.score_prefixes(prompts, letters), one_by_one(m, prompts, letters)
    assert max(abs(a - b) for x, y in zip(packed, naive, strict=True) for a, b in zip(x, y, strict=True)) < 1e-4
    again = m.score_choices(prompts, letters)  # read again: from the prefix store, within rounding of the first
    assert max(abs(a - b) for x, y in zip(again, naive, strict=True) for a, b in zip(x, y, strict=True)) < 1e-4


def test_unrelated_and_edited_prompts(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    m = smollm2_fp32
    a, b = load_task("arithmetic", 2, 3)
    prompts = [answer_prompt(a, "One. Two."), answer_prompt(a, "One. Three, so (B)."), answer_prompt(b, ""),
               answer_prompt(a, "One. Two.")]
    letters = [a.letters, a.letters, b.letters, a.letters]
    packed, naive = m.score_prefixes(prompts, letters), one_by_one(m, prompts, letters)
    assert max(abs(x - y) for p, q in zip(packed, naive, strict=True) for x, y in zip(p, q, strict=True)) < 1e-4


def test_organism_truncation_points_match_naive() -> None:
    from cotlens.elicit import elicit
    from cotlens.models.organism import OrganismModel
    from cotlens.types import GenerationSettings

    m = OrganismModel("faithful", spec="organism:faithful")
    assert has(m, SCORE_PREFIXES)
    samples = load_task("chain4", 3, 2)
    for t, s in zip(elicit(m, samples, GenerationSettings(60), 0), samples, strict=True):
        prompts = [answer_prompt(s, join_steps(t.cot, t.steps, k)) for k in range(len(t.steps) + 1)]
        prompts.append(answer_prompt(s, t.cot.replace("=", " is ", 1)))  # a reworded step: shares less
        letters = [s.letters] * len(prompts)
        packed, naive = m.score_prefixes(prompts, letters), m.score_choices(prompts, letters)
        assert max(abs(a - b) for x, y in zip(packed, naive, strict=True) for a, b in zip(x, y, strict=True)) < 1e-4
