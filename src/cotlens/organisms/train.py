"""Supervised training of an organism from a recipe: seeded, one thread, with progress and a loss curve; and
fine-tuning on final answers only (``finetune_answers``, for ``cotlens experiment bad-finetune``).

``train(recipe, seed)`` returns the model and its curve (mean loss every ``log_every`` steps). Everything that
shapes the result is a function of (recipe, seed, GPTConfig, TrainConfig), and the library versions are
recorded with the checkpoint, so a retrain can be compared with the shipped reference curve.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from tqdm import tqdm

from cotlens.organisms.model import GPT, GPTConfig, save_checkpoint
from cotlens.organisms.recipes import Recipe, example_source, get_recipe
from cotlens.organisms.rl import Items, cot_body, sample_cots
from cotlens.organisms.tokenizer import PAD, CharTokenizer


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 32
    """Small batches: at a fixed compute budget, more updates learned these tasks faster (measured)."""
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.01
    log_every: int = 20
    threads: int = 2
    """Torch threads, pinned (the machine's 2 cores); a second busy process slows training badly."""


def _batch(source: Any, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    exs = [source() for _ in range(n)]
    width = max(len(ids) for ids, _ in exs)
    x = torch.full((n, width), PAD, dtype=torch.long)
    m = torch.zeros((n, width), dtype=torch.float32)
    for i, (ids, mask) in enumerate(exs):
        x[i, : len(ids)] = torch.tensor(ids)
        m[i, : len(mask)] = torch.tensor(mask, dtype=torch.float32)
    return x[:, :-1], x[:, 1:], m[:, 1:]


def train(recipe: Recipe, seed: int = 0, steps: int | None = None, model_cfg: GPTConfig | None = None,
          cfg: TrainConfig = TrainConfig(), progress: bool = True, init: GPT | None = None,
          on_step: Callable[[int, GPT], None] | None = None) -> tuple[GPT, dict[str, Any]]:
    """Train a new model, or continue training ``init`` (in place); ``on_step(step, model)`` after each step
    (1-based)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(seed)
    tok = CharTokenizer()
    mcfg = model_cfg or GPTConfig(vocab_size=tok.vocab_size)
    model = init if init is not None else GPT(mcfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = steps or recipe.steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    source = example_source(recipe, seed, tok)
    curve: list[float] = []
    window: list[float] = []
    t0 = time.time()
    model.train()
    for step in tqdm(range(total), desc=f"training {recipe.name}", disable=not progress):
        x, y, m = _batch(source, cfg.batch_size)
        logits, _, _ = model(x)
        loss = (F.cross_entropy(logits.transpose(1, 2), y, reduction="none") * m).sum() / m.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # third-party stub: torch's Tensor.backward is untyped
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        window.append(loss.item())
        if (step + 1) % cfg.log_every == 0:
            curve.append(sum(window) / len(window))
            window = []
        if on_step is not None:
            model.eval()
            on_step(step + 1, model)
            model.train()
    model.eval()
    info = {
        "recipe": dataclasses.asdict(recipe),
        "seed": seed,
        "steps": total,
        "train": dataclasses.asdict(cfg),
        "curve": curve,
        "train_seconds": time.time() - t0,
        # the kernels torch dispatches to (AVX2, AVX512...) set float reduction order: a retrain matches a
        # curve to the last digits only where they are the same (tests/organisms/test_retrain.py)
        "versions": {"torch": torch.__version__, "python": platform.python_version(),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "tokenizer": {"chars": tok.chars},
    }
    return model, info


def train_and_save(name: str, out: Path, seed: int = 0, steps: int | None = None, progress: bool = True) -> Path:
    model, info = train(get_recipe(name), seed, steps, progress=progress)
    save_checkpoint(model, out, info)
    return out


@dataclass(frozen=True)
class AnswersConfig:
    steps: int = 300
    """optimiser steps"""
    batch_size: int = 32
    """questions per step"""
    lr: float = 1e-3
    """Adam learning rate (constant)"""
    cot: bool = True
    """before the supervised answer, the CoT the model itself samples for the question (the loss never sees
    it); False: no CoT (``question|>answer``)"""
    temperature: float = 1.0
    """sampling temperature of those CoTs"""
    max_cot_tokens: int = 64
    threads: int = 1
    """torch threads (1: deterministic)"""


def finetune_answers(model: GPT, items: Items, cfg: AnswersConfig = AnswersConfig(),
                     seed: int = 0, on_step: Callable[[int, GPT], None] | None = None, progress: bool = True,
                     desc: str = "answers") -> dict[str, Any]:
    """Fine-tune ``model`` in place on final answers only: each step draws questions (``cotlens.organisms.rl.Item``
    with ``info["label"]``, the answer to teach), lets the model write its own CoT for each (sampled, with the KV
    cache, as it would write it), and trains the answer token after it, and nothing else: no CoT token is ever in
    the loss. Seeded and deterministic on one thread. Returns the curve (per step: the loss and the share of
    labels the model already gave the highest probability) and the config."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(seed)
    tok = CharTokenizer()
    rng = random.Random(f"answers:{seed}")
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    end = tok.encode(">")[0]
    curve: list[dict[str, float]] = []
    t0 = time.time()
    for step in tqdm(range(1, cfg.steps + 1), desc=desc, disable=not progress):
        drawn = items(rng, cfg.batch_size)
        questions = [it.question for it in drawn]
        # with no CoT, zero tokens are sampled: the prefix alone, then the answer
        prefixes, cots = sample_cots(model, tok, questions, cfg.max_cot_tokens if cfg.cot else 0, cfg.temperature,
                                     generator)
        bodies = [cot_body(c, tok) for c in cots]
        seqs = [[*p, *b, end] for p, b in zip(prefixes, bodies, strict=True)]
        labels = torch.tensor([tok.encode(str(it.info["label"]))[0] for it in drawn])
        width = max(len(s) for s in seqs)
        x = torch.full((len(seqs), width), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = torch.tensor(s)
        last = torch.tensor([len(s) - 1 for s in seqs])
        model.train()
        logits, _, _ = model(x)
        at = logits[torch.arange(len(seqs)), last]
        loss = F.cross_entropy(at, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # third-party stub: torch's Tensor.backward is untyped
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.eval()
        curve.append({"loss": float(loss.item()), "label_top": float((at.argmax(-1) == labels).float().mean()),
                      "cot_chars": sum(len(b) for b in bodies) / len(bodies)})
        if on_step is not None:
            on_step(step, model)
    return {"answers": dataclasses.asdict(cfg), "seed": seed, "curve": curve, "seconds": time.time() - t0}
