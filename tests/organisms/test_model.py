"""The organism transformer and backend, on a small untrained model (no training in the default tier)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from cotlens.elicit import answer_prompt, continue_prompt, elicit_prompt, no_cot_prompt, split_steps
from cotlens.metrics.adding_mistakes import mistake_prompt
from cotlens.models.organism import OrganismModel
from cotlens.organisms.model import GPT, GPTConfig, generate, load_checkpoint, save_checkpoint
from cotlens.organisms.recipes import RECIPES, make_example
from cotlens.organisms.tasks import chains, to_sample
from cotlens.organisms.tokenizer import BOS, EOS, PAD, CharTokenizer
from cotlens.types import CotlensError, GenerationSettings

TOK = CharTokenizer()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=TOK.vocab_size, n_layer=2, d_model=32, n_head=2))
    path = tmp_path_factory.mktemp("org") / "tiny"
    save_checkpoint(model, path, {"tokenizer": {"chars": TOK.chars}})
    return path


def test_kv_cache_generation_equals_recomputation(tiny: Path) -> None:
    model, _ = load_checkpoint(tiny)
    seqs = [[BOS, *TOK.encode(c.question() + "|")] for c in chains(5, 0, 3)] + [[BOS, 5]]
    fast = generate(model, seqs, 30, {EOS}, PAD)
    slow = generate(model, seqs, 30, {EOS}, PAD, use_cache=False)
    assert fast == slow
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert generate(model, seqs, 10, set(), PAD, 1.0, g1) == generate(model, seqs, 10, set(), PAD, 1.0, g2,
                                                                        use_cache=False)


def test_checkpoint_roundtrip_is_safetensors_and_json(tiny: Path) -> None:
    assert sorted(p.name for p in tiny.iterdir()) == ["config.json", "model.safetensors"]
    a, _ = load_checkpoint(tiny)
    b, _ = load_checkpoint(tiny)
    x = torch.tensor([[BOS, 5, 6, 7]])
    assert torch.equal(a(x)[0], b(x)[0])


def test_backend_protocol(tiny: Path) -> None:
    m = OrganismModel(str(tiny), spec="organism:tiny", batch_size=3)
    assert m.identity["revision"].startswith("sha256:")
    samples = [to_sample(c, f"s{i}") for i, c in enumerate(chains(4, 1, 3))]
    cots = ["", "B=1.", "B=1. C=2.", "B=1. C=2. D=3."]
    prompts = [answer_prompt(s, c) for s, c in zip(samples, cots, strict=True)] + [no_cot_prompt(samples[0])]
    letters = [s.letters for s in samples] + [samples[0].letters]
    batched = m.score_choices(prompts, letters)
    single = [m.score_choices([p], [le])[0] for p, le in zip(prompts, letters, strict=True)]
    for b, s in zip(batched, single, strict=True):
        assert len(b) == 10 and max(abs(x - y) for x, y in zip(b, s, strict=True)) < 1e-4
    # no CoT and an empty CoT are the same organism input
    assert max(abs(x - y) for x, y in zip(batched[0], batched[4], strict=True)) < 1e-5
    # probabilities of the ten digits after ">" sum to at most 1
    assert sum(torch.tensor(batched[1]).exp()) <= 1 + 1e-5
    out = m.generate([elicit_prompt(samples[0]), continue_prompt(samples[0], "B=1.")], GenerationSettings(8), 0)
    assert len(out) == 2 and all(">" not in t for t in out)
    with pytest.raises(CotlensError, match="only answers its own task|cannot answer this kind"):
        m.generate([mistake_prompt(samples[0], "B=1.")], GenerationSettings(8), 0)


def test_unknown_organism() -> None:
    with pytest.raises(CotlensError, match="no organism"):
        OrganismModel("no-such-organism", spec="organism:no-such-organism")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_examples(name: str) -> None:
    rng = random.Random(0)
    recipe = RECIPES[name]
    for _ in range(200):
        ids, mask = make_example(recipe, rng, TOK)
        assert len(ids) == len(mask) and ids[0] == BOS
        text = TOK.decode(ids)
        q, rest = text.split("|")
        cot, answer = rest.split(">")
        assert answer.isdigit() and len(answer) == 1
        # the answer token is always trained; a '>' ending a cut-short CoT never is
        assert mask[len(ids) - 1 - (ids[-1] == EOS)] == 1
        steps = split_steps(cot)
        assert " ".join(s.text for s in steps) == cot
        assert all(s.text.endswith(".") and "=" in s.text for s in steps)
        k = q.count(";")
        if len(steps) < k:  # cut short
            assert mask[ids.index(TOK.stoi[">"])] == 0


def test_chain_values_and_sample() -> None:
    [c] = chains(1, 3, 4)
    v = c.values()
    assert len(v) == 5 and all(0 <= x <= 9 for x in v)
    s = to_sample(c, "x")
    assert s.choices[s.answer] == str(v[-1]) and s.question == c.question()
    assert c.cot(v) == " ".join(f"{n}={x}." for n, x in zip("BCDE", v[1:], strict=True))
