"""The RL trainer on a one-step task whose optimum is known, and its determinism."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from cotlens.organisms.model import GPT, GPTConfig, generate
from cotlens.organisms.rl import Item, RLConfig, Rollout, group_advantages, train_rl
from cotlens.organisms.tokenizer import BOS, PAD, CharTokenizer

TOK = CharTokenizer()
CFG = RLConfig(steps=60, prompts=4, group=8, lr=1e-2, max_cot_tokens=3)


def _model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, n_layer=1, n_head=2, d_model=32, max_len=32))


def _items(rng: random.Random, n: int) -> list[Item]:
    return [Item("A=1") for _ in range(n)]


def _reward(rollouts: Sequence[Rollout]) -> list[dict[str, float]]:
    """Answer 7 pays 1; each CoT character costs 0.1. The optimum: no CoT, answer 7 (reward 1)."""
    out = []
    for r in rollouts:
        hit = float(r.answer == "7")
        out.append({"reward": hit - 0.1 * len(r.cot), "hit": hit})
    return out


def test_group_advantages() -> None:
    adv = group_advantages([1, 0, 1, 0, 1, 1, 1, 1], 4)
    assert adv[:4] == [pytest_approx(1.0), pytest_approx(-1.0), pytest_approx(1.0), pytest_approx(-1.0)]
    assert adv[4:] == [0.0] * 4


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, abs=1e-3)


def test_reaches_the_optimum_and_reproduces_its_curve() -> None:
    model = _model()
    result = train_rl(model, _items, _reward, CFG, seed=3, progress=False)
    curve = [c["reward"] for c in result["curve"]]
    assert curve[0] < 0.2
    assert sum(curve[-5:]) / 5 > 0.9, curve[-10:]
    # greedy: no CoT (the first token closes it) and the answer 7
    sep, end = TOK.encode("|")[0], TOK.encode(">")[0]
    out = generate(model, [[BOS, *TOK.encode("A=1"), sep]], 4, set(), PAD)
    assert out[0][:2] == [end, TOK.encode("7")[0]]
    again = train_rl(_model(), _items, _reward, CFG, seed=3, progress=False)
    assert again["curve"] == result["curve"]
    other = train_rl(_model(), _items, _reward, CFG, seed=4, progress=False)
    assert other["curve"] != result["curve"]
