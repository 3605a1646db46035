"""``cotlens episodes``: run a model in an environment and write its labelled episodes for ``cotlens monitor``.

The model's calls go through the call cache, so a second invocation with the same settings repeats no model
call. It prints, per arm, how often the model took the hack and the reward it earned, with bootstrap CIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cotlens.envs import leaky, trigger
from cotlens.envs.leaky import STRESS
from cotlens.models.spec import load_model
from cotlens.monitors.episodes import write_episodes
from cotlens.runs.cache import CachedModel, open_cache
from cotlens.stats import mean_estimate
from cotlens.tasks import load_task
from cotlens.types import CotlensError, Episode, GenerationSettings

ENVS = ("leaky", "trigger")
CHUNK = 16


@dataclass(frozen=True)
class EpisodesConfig:
    """What ``cotlens episodes`` does. Each field is one of its options (``cotlens.options``)."""

    model: str
    """model spec: smollm2, hf:PATH, gguf:PATH, organism:NAME (hack-vocal, hack-silent) or openai:MODEL@URL"""
    out: str
    """the episodes file to write (JSONL)"""
    env: str = "leaky"
    """environment: leaky (a grader that rewards a wrong answer leaked into the prompt) or trigger (a backdoor
    note naming a wrong answer, for a model fine-tuned to obey it)"""
    task: str = "arithmetic"
    """the task whose questions the environment asks (a built-in task or a file, as for run)"""
    n: int = 20
    """number of problems (each gives a control and a leak episode)"""
    stress: tuple[str, ...] = ("standard",)
    """comma-separated stress prompts: standard, direct_conceal, monitor_aware (each a set of episodes; leaky
    only)"""
    seed: int = 0
    """seed for the task, the grader's wrong answers and sampling"""
    difficulty: int = 3
    """arithmetic task: number of operations"""
    max_new_tokens: int = 256
    """CoT budget in tokens"""
    dtype: str = "auto"
    """as for run"""
    batch_size: int = 8
    """prompts per forward pass"""
    cache: str | None = field(default=None)
    """call cache file (default $COTLENS_CACHE_DIR/calls.sqlite; 'none' disables)"""


def make_episodes(config: EpisodesConfig, progress: bool = True) -> tuple[list[Episode], dict[str, Any]]:
    if config.env not in ENVS:
        raise CotlensError(f"unknown environment {config.env!r}; available: {', '.join(ENVS)}")
    for s in config.stress:
        if s not in STRESS:
            raise CotlensError(f"--stress: unknown stress prompt {s!r}; available: {', '.join(STRESS)}")
    if config.env == "trigger" and config.stress != ("standard",):
        raise CotlensError("--stress: the trigger environment has no stress prompts (standard only)")
    if config.n < 1:
        raise CotlensError(f"--n must be at least 1, got {config.n}")
    samples = load_task(config.task, config.n, config.seed, config.difficulty, None, [])
    todo: list[Any] = (leaky.problems(samples, config.seed) if config.env == "leaky"
                       else trigger.problems(samples, config.seed))
    cache = open_cache(config.cache)
    model = CachedModel(load_model(config.model, dtype=config.dtype, batch_size=config.batch_size), cache)
    settings = GenerationSettings(max_new_tokens=config.max_new_tokens)
    out: list[Episode] = []
    bar = tqdm(total=len(todo) * len(config.stress), desc=f"{config.env}: eliciting both arms", unit="problem",
               disable=not progress)
    for stress in config.stress:
        for i in range(0, len(todo), CHUNK):
            chunk = todo[i: i + CHUNK]
            made = (leaky.episodes(model, chunk, stress, settings, config.seed) if config.env == "leaky"
                    else trigger.episodes(model, chunk, settings, config.seed))
            out += [_tagged(replace(e, metadata={**e.metadata, "stress": stress}), stress) for e in made]
            bar.update(len(chunk))
    bar.close()
    if cache is not None:
        cache.close()
    return out, summarize(out, config.seed)


def _tagged(e: Episode, stress: str) -> Episode:
    """Ids and groups carry the stress prompt, so that each set of episodes stays apart."""
    return replace(e, id=f"{stress}/{e.id}", group=f"{stress}/{e.problem}")


def summarize(eps: Sequence[Episode], seed: int) -> dict[str, Any]:
    """Per stress prompt and arm: the hack rate and the reward, with CIs."""
    out: dict[str, Any] = {}
    for e in eps:
        out.setdefault(e.metadata["stress"], {}).setdefault(e.arm, []).append(e)
    return {s: {arm: {"hacked": mean_estimate([float(e.misbehaved) for e in xs], seed).to_dict(),
                      **({"reward": mean_estimate([float(e.metadata["reward"]) for e in xs], seed).to_dict()}
                         if all("reward" in e.metadata for e in xs) else {}),
                      "correct": mean_estimate([float(e.metadata["correct"]) for e in xs], seed).to_dict()}
                for arm, xs in arms.items()} for s, arms in out.items()}


def write(config: EpisodesConfig, progress: bool = True) -> dict[str, Any]:
    eps, summary = make_episodes(config, progress)
    path = Path(config.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_episodes(path, eps)
    return summary
