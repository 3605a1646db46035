"""White-box capabilities on real models: the residual stream at CoT positions (``residuals_at``) is the
hidden state at the right token, and step ablation (``score_ablated``) is a no-op on an empty span, changes a
faithful organism's answer, and always removes its hooks (also when the call fails)."""

from __future__ import annotations

import numpy as np
import pytest

from cotlens.elicit import elicit
from cotlens.models.base import ABLATE, HIDDEN_STATES, has
from cotlens.models.organism import OrganismModel
from cotlens.prompts import answer_prompt
from cotlens.tasks import load_task
from cotlens.types import CotlensError, GenerationSettings

COT = "First, 3 plus 4 makes 7. Then 7 times 2 makes 14. So the answer is 14."


def _hooks(module) -> int:  # type: ignore[no-untyped-def]
    return sum(len(m._forward_hooks) for m in module.modules())


def _organism_trace(name: str, n: int = 3):  # type: ignore[no-untyped-def]
    m = OrganismModel(name, spec=f"organism:{name}")
    samples = load_task("repeat3", n, 424242)
    return m, samples, elicit(m, samples, GenerationSettings(max_new_tokens=60), 0)


def test_organism_residuals_are_the_hidden_states_at_the_cot_tokens() -> None:
    m, samples, traces = _organism_trace("faithful", 1)
    s, t = samples[0], traces[0]
    p = answer_prompt(s, t.cot)
    full = m.hidden_states([p])[0]  # [layers + 1, tokens, width] over BOS question|cot>
    bar = full.shape[1] - len(t.cot) - 2  # the '|' before the CoT
    got = m.residuals_at([p], [t.cot], [[0, 5, len(t.cot)]], [0, 2, 3])[0]
    assert got.shape == (4, 3, full.shape[2])
    for row, tok in enumerate([bar, bar + 5, bar + len(t.cot), full.shape[1] - 1]):
        assert np.array_equal(got[row], full[[0, 2, 3], tok])

    # an empty CoT (RL can train one): offset 0 is the '|', and the answer point follows it
    p0 = answer_prompt(s, "")
    empty = m.residuals_at([p0], [""], [[0]], [1])[0]
    full0 = m.hidden_states([p0])[0]
    assert np.array_equal(empty[0], full0[[1], full0.shape[1] - 2]) and np.array_equal(empty[1], full0[[1], -1])
    with pytest.raises(CotlensError, match="not in the prompt"):
        m.residuals_at([p], [""], [[0]], [1])  # a prompt that holds a CoT, asked about an empty one


def test_organism_ablation_is_exact_on_an_empty_span_and_changes_a_faithful_answer() -> None:
    m, samples, traces = _organism_trace("faithful")
    assert has(m, ABLATE) and has(m, HIDDEN_STATES)
    prompts = [answer_prompt(s, t.cot) for s, t in zip(samples, traces, strict=True)]
    letters = [s.letters for s in samples]
    base = m.score_choices(prompts, letters)
    cots = [t.cot for t in traces]
    assert m.score_ablated(prompts, letters, cots, [(0, 0)] * 3, 0, "mean") == base
    last = [(t.steps[-1].start, t.steps[-1].end) for t in traces]  # the step that writes the answer
    for mode in ("mean", "zero"):
        ablated = m.score_ablated(prompts, letters, cots, last, 0, mode)
        changed = [int(np.argmax(a)) != int(np.argmax(b)) for a, b in zip(ablated, base, strict=True)]
        assert sum(changed) >= 2, (mode, changed)
    assert _hooks(m.model) == 0


def test_organism_hooks_are_removed_when_the_call_fails() -> None:
    m, samples, traces = _organism_trace("faithful", 1)
    p = answer_prompt(samples[0], traces[0].cot)
    with pytest.raises(CotlensError, match="not in the prompt"):
        m.score_ablated([p, p], [samples[0].letters] * 2, [traces[0].cot, "Z=9+9=9."], [(0, 3), (0, 3)], 1, "mean")
    assert _hooks(m.model) == 0
    with pytest.raises(CotlensError, match="layer 9 out of range"):
        m.score_ablated([p], [samples[0].letters], [traces[0].cot], [(0, 3)], 9, "mean")


def test_transformers_whitebox(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    m = smollm2_fp32
    s = load_task("arithmetic", 1, 0)[0]
    p = answer_prompt(s, COT)
    m.hidden_states([p])  # transformers keeps hooks of its own for hidden states: count ours against these
    before = _hooks(m.model)
    base = m.score_choices([p], [s.letters])
    # an empty span ablates nothing: the same numbers as score_choices
    for mode in ("mean", "zero"):
        assert max(abs(a - b) for a, b in zip(m.score_ablated([p], [s.letters], [COT], [(0, 0)], 0, mode)[0],
                                             base[0], strict=True)) < 1e-5
    ablated = m.score_ablated([p], [s.letters], [COT], [(0, len(COT))], 0, "zero")[0]
    assert max(abs(a - b) for a, b in zip(ablated, base[0], strict=True)) > 1e-3  # the whole CoT erased
    assert _hooks(m.model) == before
    # residuals: offset 0 is the token before the CoT; the last row is the prompt's last token
    full = m.hidden_states([p])[0]
    ids, spans, start = m._locate(p, COT)
    got = m.residuals_at([p], [COT], [[0, COT.index(".") + 1]], [0, m.n_layers])[0]
    first_dot = max(i for i, (_, e) in enumerate(spans) if e <= start + COT.index(".") + 1)
    assert spans[first_dot][1] == start + COT.index(".") + 1  # the step's last token is its '.'
    for row, tok in enumerate([max(i for i, (_, e) in enumerate(spans) if e <= start), first_dot, len(ids) - 1]):
        assert np.allclose(got[row], full[[0, m.n_layers], tok], atol=1e-5)
    with pytest.raises(CotlensError, match="not in the prompt"):
        m.score_ablated([p], [s.letters], ["a CoT this prompt does not hold"], [(0, 3)], 2, "mean")
    assert _hooks(m.model) == before
