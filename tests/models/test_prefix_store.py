"""The prefix store (``cotlens.models.kvstore``): a read computes only what the store does not hold of its rows'
beginnings, and gives what reading each prompt alone gives (fp32: within 1e-4), greedy text included; new weights
empty it; a full store forgets the least recently used."""

from __future__ import annotations

import torch

from cotlens.elicit import join_steps, split_steps
from cotlens.models.hf import HFModel
from cotlens.models.kvstore import BLOCK, PrefixStore
from cotlens.models.spec import load_model
from cotlens.prompts import answer_prompt, continue_prompt, no_cot_prompt
from cotlens.tasks import load_task

COT = " ".join(f"Step {i}: {i} plus {i + 1} makes {2 * i + 1}." for i in range(10))


def plain(m: HFModel, rows: list[list[int]]) -> torch.Tensor:
    """Each row alone, in a plain forward pass of transformers' model: next-token log-probabilities."""
    with torch.inference_mode():
        return torch.stack([torch.log_softmax(m.model(input_ids=torch.tensor([r])).logits[0, -1].float(), -1)
                            for r in rows])


def test_reads_from_the_store_equal_plain_reads_and_greedy_text() -> None:
    m = load_model("smollm2", dtype="float32", batch_size=8)
    assert isinstance(m, HFModel)
    samples = load_task("arithmetic", 2, 0)
    steps = split_steps(COT)
    first = [m.encode_prompt(answer_prompt(s, COT)) for s in samples]
    assert (m.score_rows(first) - plain(m, first)).abs().max() < 1e-4
    assert m._store.hits == 0
    cuts = [m.encode_prompt(answer_prompt(s, join_steps(COT, steps, k))) for s in samples for k in range(len(steps))]
    cuts += [m.encode_prompt(no_cot_prompt(s)) for s in samples]
    got = m.score_rows(cuts)
    assert m._store.hits > sum(len(r) for r in cuts) // 2  # the question and the CoT's beginning, from the store
    assert (got - plain(m, cuts)).abs().max() < 1e-4
    # decoding after a stored prefix: the text transformers' generate writes
    rows = [m.encode_prompt(continue_prompt(s, join_steps(COT, steps, 4))) for s in samples]
    hits = m._store.hits
    warm = m.greedy(rows, 24)
    assert m._store.hits > hits
    with torch.inference_mode():
        for r, g in zip(rows, warm, strict=True):
            ref = m.model.generate(torch.tensor([r]), max_new_tokens=24, do_sample=False)[0, len(r):].tolist()
            assert ref[: len(g)] == g
    m.clear_prefix_store()
    assert m.greedy(rows, 24) == warm
    # new weights (changed in place, as an optimizer does) are not read with the old keys and values
    with torch.no_grad():
        m.model.model.layers[3].mlp.down_proj.weight.mul_(1.5)
    assert (m.score_rows(cuts) - plain(m, cuts)).abs().max() < 1e-4


def test_store_finds_the_longest_stored_prefix_and_forgets_the_oldest() -> None:
    def layers(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.zeros(1, 1, n, 2), torch.zeros(1, 1, n, 2))]

    s = PrefixStore(max_bytes=2 * 2 * 4 * 2 * 100)  # two entries of 100 slots
    a = list(range(100))
    s.add(layers(100), [(a, 0, list(range(100)))])
    hit = s.find(a[:70] + [999] * 5, min_tokens=32)
    assert hit is not None and hit.n == 70 and hit.slots == list(range(70))
    assert s.find(a, min_tokens=32).n == 99  # type: ignore[union-attr]  # never the last token: it is read
    assert s.find(a[:BLOCK - 1], min_tokens=1) is None  # no whole block stored in common
    assert s.find([5] + a[1:], min_tokens=1) is None
    assert s.find(a[:40] + [7] * 40, min_tokens=48) is None  # too short a share
    b, c = [1000 + i for i in range(100)], [2000 + i for i in range(100)]
    s.add(layers(100), [(b, 0, list(range(100)))])
    s.find(a, min_tokens=32)  # a is used again: b is now the oldest
    s.add(layers(100), [(c, 0, list(range(100)))])
    assert s.find(b, min_tokens=32) is None and s.find(a, min_tokens=32) is not None
    assert s.find(c, min_tokens=32) is not None
    s.check("other weights")
    assert s.find(a, min_tokens=32) is None
