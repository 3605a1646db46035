"""Reinforcement learning for organisms: REINFORCE with a group baseline (GRPO-style).

Each step draws ``prompts`` questions and samples ``group`` rollouts of each (temperature ``temperature``, with
the KV cache): a CoT up to the ``>`` that ends it, then the answer token read after the CoT, or after a
paraphrase of it when a paraphraser is given (the paraphraser sits between the CoT and the answer, as Roger &
Greenblatt 2023's defence does: the answer sees only the paraphrased CoT). A reward function scores the whole
batch at once (so a monitor can read every CoT in one pass). Advantages are normalised within each group
(Shao et al. 2024, GRPO: ``(r - mean) / (std + eps)``; a group whose rewards are all equal teaches nothing), and
one policy-gradient step is taken on them, on-policy, so GRPO's clipped ratio is 1 and drops out. Deviations
from GRPO, for a 3-layer model on a synthetic task: no KL penalty to a reference policy (the experiments compare
arms from the same start at the same step count instead), and the loss is a token-level mean over the batch
(DAPO) rather than a per-sequence one.

The CoT's tokens (including the ``>`` or EOS that stopped it) are trained in the context that produced them; the
answer token in the context it was read in (the paraphrased CoT). A CoT that reaches ``max_cot_tokens`` is closed
with a ``>`` that is not trained.

Seeded and deterministic on one thread: the questions come from ``random.Random(f"rl:{seed}")``, sampling from a
``torch.Generator`` seeded with ``seed``, and the paraphraser gets its own seeded ``random.Random``; a retrain
with the same seed reproduces the reward curve exactly (tested).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn import functional as F
from tqdm import tqdm

from cotlens.organisms.model import GPT, generate
from cotlens.organisms.tokenizer import BOS, EOS, PAD, CharTokenizer


@dataclass(frozen=True)
class RLConfig:
    steps: int = 100
    """policy-gradient steps"""
    prompts: int = 16
    """questions per step"""
    group: int = 8
    """rollouts per question (the group whose mean reward is the baseline)"""
    lr: float = 3e-4
    """Adam learning rate (constant)"""
    temperature: float = 1.0
    """sampling temperature of the rollouts"""
    max_cot_tokens: int = 64
    """longest CoT sampled, in tokens"""
    threads: int = 1
    """torch threads (1: deterministic)"""
    clip: float = 1.0
    """gradient-norm clip"""


@dataclass(frozen=True)
class Item:
    """A question as the organism reads it (before ``|``), with what the reward needs to know of it."""

    question: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rollout:
    item: Item
    cot: str
    """The CoT the model wrote."""
    shown: str
    """The CoT the answer was read after: the paraphrase, or the CoT itself."""
    answer: str
    """The answer token's text ('' for a special token)."""
    closed: bool
    """The model ended its CoT with ``>`` itself."""


Items = Callable[[random.Random, int], list[Item]]
"""Draws ``n`` questions with the given rng."""
Reward = Callable[[Sequence[Rollout]], list[dict[str, float]]]
"""Scores a batch of rollouts: per rollout a dict with the total ``reward`` and any components to log."""
Paraphraser = Callable[[str, random.Random], str]


def sample_cots(model: GPT, tok: CharTokenizer, questions: Sequence[str], max_tokens: int, temperature: float,
                generator: torch.Generator) -> tuple[list[list[int]], list[list[int]]]:
    """Each question's prefix (``BOS question|``) and the CoT the model samples after it, with the KV cache: its
    tokens up to and including the ``>`` or EOS that stopped it (none if it ran to ``max_tokens``)."""
    sep, end = tok.encode("|")[0], tok.encode(">")[0]
    prefixes = [[BOS, *tok.encode(q), sep] for q in questions]
    model.eval()
    return prefixes, generate(model, prefixes, max_tokens, {end, EOS}, PAD, temperature, generator)


def cot_body(cot: list[int], tok: CharTokenizer) -> list[int]:
    """A sampled CoT without the ``>`` or EOS that stopped it."""
    return cot[:-1] if cot and cot[-1] in (tok.encode(">")[0], EOS) else cot


def sample_rollouts(model: GPT, tok: CharTokenizer, items: Sequence[Item], cfg: RLConfig,
                    generator: torch.Generator, paraphrase: Paraphraser | None = None,
                    rng: random.Random | None = None,
                    ) -> tuple[list[Rollout], list[tuple[list[int], list[int]]], list[int]]:
    """One rollout per item; the trained token sequences, each (ids, 0/1 mask of the tokens whose
    log-probabilities the policy gradient uses); and per sequence the index of its rollout. A rollout whose answer
    was read after its own closed CoT is one sequence; otherwise two (the CoT in the context that wrote it, the
    answer in the context it was read in)."""
    end = tok.encode(">")[0]
    prefixes, cots = sample_cots(model, tok, [it.question for it in items], cfg.max_cot_tokens, cfg.temperature,
                                 generator)
    rng = rng or random.Random(0)
    shown_ids: list[list[int]] = []
    texts: list[tuple[str, str, bool]] = []
    for c in cots:
        closed = bool(c) and c[-1] == end
        body = cot_body(c, tok)
        cot = tok.decode(body)
        shown = paraphrase(cot, rng) if paraphrase else cot
        texts.append((cot, shown, closed))
        shown_ids.append(tok.encode(shown) if paraphrase else body)
    answer_prefixes = [[*p, *s, end] for p, s in zip(prefixes, shown_ids, strict=True)]
    answers = generate(model, answer_prefixes, 1, set(), PAD, cfg.temperature, generator)
    rollouts: list[Rollout] = []
    seqs: list[tuple[list[int], list[int]]] = []
    owners: list[int] = []
    for it, p, c, a_pre, a, (cot, shown, closed) in zip(items, prefixes, cots, answer_prefixes, answers, texts,
                                                        strict=True):
        rollouts.append(Rollout(it, cot, shown, tok.decode(a), closed))
        if closed and a_pre == [*p, *c]:  # the answer was read right after the CoT as written: one sequence
            seqs.append(([*a_pre, *a], [0] * len(p) + [1] * (len(c) + len(a))))
        else:
            seqs.append(([*p, *c], [0] * len(p) + [1] * len(c)))
            seqs.append(([*a_pre, *a], [0] * len(a_pre) + [1] * len(a)))
        owners += [len(rollouts) - 1] * (len(seqs) - len(owners))
    return rollouts, seqs, owners


def group_advantages(rewards: Sequence[float], group: int, eps: float = 1e-4) -> list[float]:
    """GRPO's advantages: each reward minus its group's mean, over the group's standard deviation (population);
    0 for a group whose rewards are all equal."""
    out: list[float] = []
    for g in range(0, len(rewards), group):
        r = torch.tensor(rewards[g:g + group], dtype=torch.float64)
        std = float(r.std(unbiased=False))
        out += [0.0] * len(r) if std < eps else ((r - r.mean()) / (std + eps)).tolist()
    return out


def policy_loss(model: GPT, seqs: Sequence[tuple[list[int], list[int]]], weights: Sequence[float]) -> torch.Tensor:
    """The REINFORCE loss: minus the advantage-weighted log-probability of every trained token, averaged over
    the trained tokens of the batch. Sequences are right-padded (causal attention never sees the padding)."""
    width = max(len(ids) for ids, _ in seqs)
    x = torch.full((len(seqs), width), PAD, dtype=torch.long)
    m = torch.zeros((len(seqs), width))
    for i, (ids, mask) in enumerate(seqs):
        x[i, : len(ids)] = torch.tensor(ids)
        m[i, : len(mask)] = torch.tensor(mask, dtype=torch.float32)
    logits, _, _ = model(x[:, :-1])
    logp = -F.cross_entropy(logits.transpose(1, 2), x[:, 1:], reduction="none")
    trained = m[:, 1:]
    w = torch.tensor(weights, dtype=torch.float32)[:, None]
    loss: torch.Tensor = -(logp * trained * w).sum() / trained.sum().clamp(min=1.0)
    return loss


def train_rl(model: GPT, items: Items, reward: Reward, cfg: RLConfig = RLConfig(), seed: int = 0,
             paraphrase: Paraphraser | None = None, on_step: Callable[[int, GPT], None] | None = None,
             tok: CharTokenizer | None = None, progress: bool = True, desc: str = "RL") -> dict[str, Any]:
    """Train ``model`` in place; returns its curve (per step, the batch's mean of each reward component) and
    the config. ``on_step(step, model)`` after each step (1-based), as ``cotlens.organisms.train.train`` calls it."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(seed)
    tok = tok or CharTokenizer()
    item_rng = random.Random(f"rl:{seed}")
    para_rng = random.Random(f"rl-paraphrase:{seed}")
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    curve: list[dict[str, float]] = []
    t0 = time.time()
    for step in tqdm(range(1, cfg.steps + 1), desc=desc, disable=not progress):
        drawn = items(item_rng, cfg.prompts)
        batch = [it for it in drawn for _ in range(cfg.group)]
        rollouts, seqs, owners = sample_rollouts(model, tok, batch, cfg, generator, paraphrase, para_rng)
        scores = reward(rollouts)
        adv = group_advantages([s["reward"] for s in scores], cfg.group)
        model.train()
        loss = policy_loss(model, seqs, [adv[i] for i in owners])
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # third-party stub: torch's Tensor.backward is untyped
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        model.eval()
        curve.append({k: sum(s[k] for s in scores) / len(scores) for k in scores[0]}
                     | {"cot_chars": sum(len(r.cot) for r in rollouts) / len(rollouts)})
        if on_step is not None:
            on_step(step, model)
    return {"rl": dataclasses.asdict(cfg), "seed": seed, "curve": curve, "seconds": time.time() - t0,
            "paraphraser": paraphrase is not None}
