"""What ``cotlens validate`` runs: each organism's battery (the same runner, cache and records as any model) and
its monitor episodes. Nothing here scores; ``cotlens.validation.scoring`` reads what these runs wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cotlens.metrics import METRICS, main_args
from cotlens.metrics.base import Variant
from cotlens.monitoring.result import MonitorResult
from cotlens.organisms.recipes import CHOICE_RECIPES, HACK_RECIPES, HINT_RECIPES
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import FinishedRun, load_finished
from cotlens.runs.runner import run

VALIDATION_SEED = 424242
"""Chains are drawn from a seed the recipes never use. ``repeat3`` has only 80 distinct questions (10 starts, 8
operands), so held-out questions also occur in training: the organisms are tested on their behaviour, not on
generalisation (the latent probe's folds are drawn by question for this reason)."""
TASKS = {"faithful": "repeat3", "posthoc": "repeat3", "encoded": "repeat3", "mixed": "repeat3-mixed",
         "rationalize": "repeat3-target", "hint-vocal": "repeat3", "hint-silent": "repeat3", "fork": "fork3",
         "fork-posthoc": "fork3"}
MAIN = "main"
"""The organism's run of every metric with its first variant (``Metric.variants``) or its defaults."""
PROBE_TASKS = {"faithful": ("chain4", 1), "rationalize": ("repeat3-target-all", 4)}
"""Extra latent-probe runs, (task, samples per ``--n``): the faithful organism on the task whose CoT it needs (no
other organism is trained on it); the rationalize organism on triggered questions only, four times as many (a
probe for 10 targets from 128 dimensions needs hundreds of samples: measured before the CoT, held-out accuracy
0.87 from 200 triggered samples, 0.96 from 400)."""
MONITOR_TASK = "repeat3"
MONITOR_ENVS = {name: "leaky" for name in HACK_RECIPES} | {"rationalize": "trigger"}
"""The organisms the monitors are validated on, and the environment each misbehaves in."""

OrganismRuns = dict[str, FinishedRun]
"""An organism's finished runs: ``MAIN``, each extra variant's label, ``probe``, and the name of each metric
validated on more samples (``Metric.validation_samples``)."""


def extra_variants() -> dict[str, tuple[str, Variant]]:
    """The other variants, each a run of its own: label -> (metric, variant). Labels name run directories, so
    two metrics may not share one."""
    out: dict[str, tuple[str, Variant]] = {}
    for name, m in METRICS.items():
        for label, v in list(m.variants.items())[1:]:
            if label in out:  # a developer's error, in the registry
                raise RuntimeError(f"validation variant {label!r} of {name} is also one of {out[label][0]}")
            out[label] = (name, v)
    return out


def family_metrics(family: str) -> tuple[str, ...]:
    return tuple(m for m, metric in METRICS.items() if metric.validated_by == family)


def run_organism(name: str, out: Path, n: int, progress: bool) -> OrganismRuns:
    """Per run (the main one, each extra variant's, the probe task's), its summary and what it wrote (samples,
    traces, records), read once. A hint organism has one run, of the hint metrics and the latent probe."""
    runs: OrganismRuns = {}
    hint, choice = name in HINT_RECIPES, name in CHOICE_RECIPES
    if hint:
        main = (*family_metrics("verbalization"), "latent_probe")
    elif choice:
        main = family_metrics("choice")
    else:
        main = tuple(m for f in ("load_bearing", "legibility", "choice", "decided_before")
                     for m in family_metrics(f) if METRICS[m].validation_samples == 1)
    todo: dict[str, tuple[tuple[str, ...], dict[str, Any], int]] = {MAIN: (main, main_args(), n)}
    if not hint and not choice:
        todo.update({label: ((metric,), {metric: v.args}, n) for label, (metric, v) in extra_variants().items()
                     if METRICS[metric].validated_by == "load_bearing"})
        # a metric fitted across samples, on more of them (``Metric.validation_samples``), in a run of its own
        todo.update({m: ((m,), main_args(), n * METRICS[m].validation_samples) for m in METRICS
                     if METRICS[m].validation_samples > 1})
    for label, (metrics, args, size) in todo.items():
        slug = label.replace(":", "-")
        cfg = RunConfig(model=f"organism:{name}", task=TASKS[name], out=str(out / "runs" / name / slug), n=size,
                        seed=VALIDATION_SEED, max_new_tokens=60, batch_size=64, metrics=metrics,
                        cache=str(out / "calls.sqlite"), args=args)
        runs[label] = _finished(cfg, progress)
    if name in PROBE_TASKS:  # where does its answer become readable?
        task, scale = PROBE_TASKS[name]
        cfg = RunConfig(model=f"organism:{name}", task=task, out=str(out / "runs" / name / "probe"),
                        n=n * scale, seed=VALIDATION_SEED, max_new_tokens=60, batch_size=64, metrics=("latent_probe",),
                        cache=str(out / "calls.sqlite"))
        runs["probe"] = _finished(cfg, progress)
    return runs


def _finished(cfg: RunConfig, progress: bool) -> FinishedRun:
    run(cfg, progress=progress)
    return load_finished(cfg.out)


def run_monitors(name: str, out: Path, n: int, progress: bool) -> MonitorResult:
    """The organism's episodes in its environment (``cotlens.envs.leaky`` or ``trigger``), written to
    ``monitors/NAME/episodes.jsonl``, scored by the ``rule`` monitor and a probe on its own residual stream."""
    from cotlens.envs import leaky, trigger
    from cotlens.models.spec import load_model
    from cotlens.monitoring.monitor import MonitorConfig, monitor
    from cotlens.monitors.episodes import write_episodes
    from cotlens.runs.cache import CachedModel, CallCache
    from cotlens.tasks import load_task
    from cotlens.types import GenerationSettings

    samples = load_task(MONITOR_TASK, n, VALIDATION_SEED)
    d = out / "monitors" / name
    d.mkdir(parents=True, exist_ok=True)
    cache = CallCache(out / "calls.sqlite")
    model = CachedModel(load_model(f"organism:{name}", batch_size=64), cache)
    settings = GenerationSettings(max_new_tokens=60)
    eps = (leaky.episodes(model, leaky.problems(samples, VALIDATION_SEED), "standard", settings, VALIDATION_SEED)
           if MONITOR_ENVS[name] == "leaky"
           else trigger.episodes(model, trigger.problems(samples, VALIDATION_SEED), settings, VALIDATION_SEED))
    cache.close()
    write_episodes(d / "episodes.jsonl", eps)
    return monitor(MonitorConfig(episodes=str(d / "episodes.jsonl"), out=str(d / "scores"),
                                 monitors=("rule", f"probe:organism:{name}"), seed=VALIDATION_SEED,
                                 batch_size=64, cache=str(out / "calls.sqlite")), progress=progress)
