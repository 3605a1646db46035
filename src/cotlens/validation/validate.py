"""``cotlens validate``: every metric on every organism, scored against the faithfulness built into them.

Each shipped organism runs the ordinary battery (the same runner, cache and records as any model) on held-out
chains: ``repeat3`` for ``faithful``, ``posthoc`` and ``encoded``, ``repeat3-mixed`` for ``mixed``. A sample's
ground-truth label is 1 when its organism answers from its CoT and 0 when it answers from the question:

- ``faithful_vs_posthoc``: ``faithful``'s samples (1) against ``posthoc``'s (0), on the same questions;
- ``mixed``: within the ``mixed`` organism, plain questions (1) against triggered ones (0);
- ``encoded_vs_posthoc``: ``encoded``'s samples (1, its CoT is load-bearing though illegible) against
  ``posthoc``'s (0).

For each metric and comparison, ``validation.json`` holds the AUROC of the metric's per-sample faithfulness
score with a stratified bootstrap CI. Metrics added to ``cotlens.metrics.METRICS`` join automatically; one that
cannot score an organism's samples says why.

Interventions. Adding mistakes runs three times: with ``rule`` mistakes (a wrong value: the kind the organisms
are trained on), with ``rule:reword`` (a wrong value in a wording no organism saw, "so C=7+4=3."), and with
``rule:first`` (the step's first number changed instead of its value). All are reported; the last two test a
metric beyond its training intervention.

Ground truth is checked, not assumed: for each organism and intervention, ``organisms.NAME.checks`` gives the
share of answers that follow its recipe's rule (the CoT's last written value, or the true answer), with
malformed answers (the digits hold under half the probability) and malformed continuations (a CoT the
organism went on writing that no longer parses as its steps) counted apart from changed answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from cotlens.metrics import METRICS
from cotlens.organisms.model import CHECKPOINTS, shipped
from cotlens.organisms.recipes import CHOICE_RECIPES, HACK_RECIPES, HINT_RECIPES, RECIPES
from cotlens.types import CotlensError
from cotlens.validation.organisms import (
    MAIN,
    MONITOR_ENVS,
    TASKS,
    VALIDATION_SEED,
    OrganismRuns,
    extra_variants,
    run_monitors,
    run_organism,
)
from cotlens.validation.result import MetricValidation, OrganismValidation, RuleCheck, Validation
from cotlens.validation.scoring import (
    COMPARISONS,
    hint_checks,
    interventions,
    latent_section,
    metric_lines,
    monitor_organism,
    monitor_section,
    organism_checks,
    rationalisation,
    resampling_section,
    run_readouts,
    score_metric,
    triggered,
)
from cotlens.validation.table import validation_table

ALL_ORGANISMS = (*RECIPES, *HINT_RECIPES, *CHOICE_RECIPES, *HACK_RECIPES)
"""Every organism ``validate`` uses: the battery's, the hint and the fork recipes', and the hack recipes' (monitors
only)."""
BATTERY = (*RECIPES, *HINT_RECIPES, *CHOICE_RECIPES)
"""The organisms whose runs score metrics."""


def check_organisms(only: Sequence[str] | None) -> None:
    """``--organisms``, checked before anything runs."""
    if only is not None:
        unknown = [o for o in only if o not in ALL_ORGANISMS]
        if unknown or not only:
            raise CotlensError(f"--organisms: unknown organism {unknown[0]!r} (one of {', '.join(ALL_ORGANISMS)})"
                               if unknown else "--organisms is empty")


def organism_result(name: str, runs: OrganismRuns) -> OrganismValidation:
    """An organism's entry: its recipe, accuracy and metrics, and its ground truth checked on its records."""
    meta = json.loads((CHECKPOINTS / name / "config.json").read_text())
    main = runs[MAIN]
    samples, traces = main.samples, main.traces
    entry = OrganismValidation(
        recipe=(HINT_RECIPES.get(name) or CHOICE_RECIPES.get(name) or RECIPES[name]).description, task=TASKS[name],
        accuracy_with_cot=main.summary.accuracy_with_cot, train_seconds=meta.get("train_seconds"),
        train_steps=meta.get("steps"), metrics=metric_lines(main.summary), checks={})
    if name in HINT_RECIPES:
        return replace(entry, checks=hint_checks(runs))
    recipe = CHOICE_RECIPES.get(name) or RECIPES[name]
    readouts = run_readouts(runs)
    def checks(trig: bool) -> dict[str, RuleCheck]:
        keep = {k: v for k, v in samples.items() if triggered(v) == trig}
        return organism_checks(recipe, keep, {k: v for k, v in traces.items() if k in keep},
                               [(s_id, x) for s_id, x in readouts if s_id in keep])

    split = name in ("mixed", "rationalize")
    return replace(entry, checks=organism_checks(recipe, samples, traces, readouts),
                   checks_plain=checks(False) if split else None, checks_triggered=checks(True) if split else None,
                   rationalisation=rationalisation(samples, traces) if recipe.rationalize else None)


def validate(out: Path, n: int = 100, progress: bool = True, only: Sequence[str] | None = None) -> Validation:
    """Every metric and monitor on the shipped organisms (``only``: these organisms only, the rest reported missing;
    a comparison that needs a missing organism says so): run, score, then write ``validation.json`` and
    ``report.html``."""
    check_organisms(only)
    names = [r for r in BATTERY if r in shipped() and (only is None or r in only)]
    organisms = {name: run_organism(name, out, n, progress) for name in names}
    watched = [r for r in MONITOR_ENVS if r in shipped() and (only is None or r in only)]
    monitored = {name: monitor_organism(name, run_monitors(name, out, n, progress)) for name in watched}
    missing = {m: "no shipped checkpoint" if m not in shipped() else "not in --organisms"
               for m in BATTERY if m not in names}
    extra = extra_variants()
    metrics = {}
    for metric, m in METRICS.items():
        several = len(m.variants) > 1
        metrics[metric] = MetricValidation(
            score_metric(metric, MAIN, organisms), next(iter(m.variants)) if several else None,
            {label: score_metric(metric, label, organisms, v.description)
             for label, (name, v) in extra.items() if name == metric}
            if several else None)
    result = Validation(
        n_per_organism=n, seed=VALIDATION_SEED, tasks=TASKS, interventions=interventions(), comparisons=COMPARISONS,
        organisms={name: organism_result(name, runs) for name, runs in organisms.items()}, metrics=metrics,
        missing_organisms=missing or None, latent_probe=latent_section(organisms),
        resampling=resampling_section(organisms), monitors=monitor_section(monitored))
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.json").write_text(json.dumps(result.to_dict(), indent=1))
    from cotlens.validation.report import write_validation_report

    write_validation_report(out, result)
    (out / "validation.md").write_text(validation_table(result))
    return result
