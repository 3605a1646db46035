"""What the training experiments share: arms trained from one start organism with several seeds, each (arm, seed)
an independent job (``cotlens.experiments.launch``), each checkpoint evaluated once and kept, each measure's mean
over seeds with a t interval, and what happened in each seed (``SeedEvent``) counted over seeds with an exact
binomial (Clopper-Pearson) interval.

Layout of an experiment directory (``cotlens experiment pressure``, ``bad-finetune``, ``encoding``):

- ``experiment.json``: the options that shape training; a resumed experiment must share them;
- ``start/seed-S``: the start organism, evaluated once per seed (step 0 of every arm);
- ``ARM/seed-S/step-N``: each checkpoint, an organism (``cotlens run --model organism:DIR/ARM/seed-S/step-N``),
  with its ``eval.json``; ``ARM/seed-S/step-0`` links to the start, so each arm's directory is a checkpoint
  series (``cotlens run --model organism:DIR/ARM/seed-S``);
- ``ARM/seed-S/train.json``: the training log.

A killed experiment resumes job by job: an (arm, seed) whose checkpoints are all written is not retrained, an
evaluated checkpoint is not re-evaluated (training is deterministic on one thread, so an unfinished arm is
retrained from its start to the same weights). The files a resumed run reads are written atomically.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cotlens.organisms.model import GPT, load_checkpoint, resolve, save_checkpoint
from cotlens.stats import mean_estimate
from cotlens.types import FLATTEN, OMIT_NONE, SCHEMA_VERSION, CotlensError, Estimate, JsonObject, JsonResult

Measures = dict[str, Estimate]
"""A checkpoint's evaluation: each measure a bootstrap estimate over its problems."""
TrainLog = JsonObject
"""A trainer's log as it wrote it (``train.json``): its options, ``curve`` (one entry per step), ``seconds``."""
TrainArm = Callable[[str, int, Path], TrainLog]
"""(arm, seed, directory) -> training log; writes ``step-N`` checkpoints into the directory."""
Evaluate = Callable[[Path, int], Measures]
"""(checkpoint, seed) -> measures."""
Evals = dict[str, dict[int, dict[int, Measures]]]
"""Per arm, seed and step, the checkpoint's measures."""


@dataclass(frozen=True)
class OverSeeds(JsonResult):
    """A measure's mean over seeds with its t interval, beside each seed's own estimate."""

    value: float | None
    ci: tuple[float, float] | None
    n: int
    seeds: list[Estimate]

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.value, self.ci, self.n)


@dataclass(frozen=True)
class Checkpoint(JsonResult):
    """One step of an arm, every measure over seeds. In the file: ``{"step": N, MEASURE: OverSeeds, ...}``."""

    step: int
    measures: dict[str, OverSeeds] = field(metadata=FLATTEN)

    def get(self, measure: str) -> Estimate | None:
        m = self.measures.get(measure)
        return None if m is None else m.estimate


@dataclass(frozen=True)
class SeedEvent:
    """Something that does or does not happen in a seed's run, decided on its final checkpoint by a rule fixed in
    code before any run (``test``: True, False, or None where the seed cannot be judged)."""

    name: str
    rule: str
    """The rule in words, as reports print it."""
    test: Callable[[Measures], bool | None]


@dataclass(frozen=True)
class SeedRate(JsonResult):
    """How many of an arm's seeds an event happened in, with the exact binomial (Clopper-Pearson) 95% interval of
    its rate: each seed is an independent run, so the runs are Bernoulli trials."""

    rule: str
    k: int
    n: int
    """Seeds judged (a seed the rule cannot judge is left out)."""
    value: float | None
    ci: tuple[float, float] | None
    seeds: list[bool | None]
    """Per seed, in seed order."""

    @property
    def estimate(self) -> Estimate:
        return Estimate(self.value, self.ci, self.n)


@dataclass(frozen=True)
class Arm(JsonResult):
    description: str
    checkpoints: list[Checkpoint]
    training: dict[str, TrainLog]
    """Per seed (as a string), the training log."""
    events: dict[str, SeedRate] = field(default_factory=dict)
    """Per event (``SeedEvent``), its rate over seeds at the final checkpoint."""


@dataclass(frozen=True)
class Reference(JsonResult):
    """An organism evaluated like the checkpoints, for comparison (bad-finetune's backdoored organism)."""

    organism: str
    values: Measures


@dataclass(frozen=True)
class ArmsResult(JsonResult):
    """A training experiment's result file (``pressure.json``, ``bad_finetune.json``): written by its run, drawn
    by its report and table. Schema 2 added ``schema``; nothing else changed."""

    config: JsonObject
    """The experiment's options."""
    steps: list[int]
    arms: dict[str, Arm]
    seconds: float
    """This invocation's wall time."""
    compute_seconds: float | None
    """All training and evaluation (None where an older evaluation did not keep its time)."""
    reference: Reference | None = field(default=None, metadata=OMIT_NONE)
    schema: int = SCHEMA_VERSION

    @property
    def start(self) -> Checkpoint:
        """Step 0, shared by every arm."""
        return next(iter(self.arms.values())).checkpoints[0]


def check_options(chosen: Sequence[str], known: dict[str, str], counts: dict[str, int], group: int,
                  shares: dict[str, float], start: str) -> None:
    """The options every training experiment has: arms among ``known``; ``counts`` (option name: value) at least
    1; a GRPO ``group`` of at least 2; ``shares`` in [0, 1]; a ``start`` organism that exists."""
    bad = [a for a in chosen if a not in known]
    if bad:
        raise CotlensError(f"--arms: unknown arm {bad[0]!r}; arms: {', '.join(known)}")
    if not chosen:
        raise CotlensError("--arms is empty")
    for name, v in counts.items():
        if v < 1:
            raise CotlensError(f"{name} must be at least 1, got {v}")
    if group < 2:
        raise CotlensError(f"--group must be at least 2 (the baseline is the group's mean), got {group}")
    for name, x in shares.items():
        if not 0 <= x <= 1:
            raise CotlensError(f"{name} must be in [0, 1], got {x}")
    resolve(start)


def checkpoint_steps(steps: int, checkpoints: int) -> list[int]:
    """``checkpoints`` evenly spaced steps, the last at ``steps``."""
    return sorted({round(steps * (i + 1) / checkpoints) for i in range(checkpoints)})


def save_step(model: GPT, path: Path, meta: Mapping[str, Any], key: str, extra: Mapping[str, Any]) -> None:
    """A checkpoint as an organism: the start's config with what made it under ``key``."""
    save_checkpoint(model, path, {k: v for k, v in meta.items() if k != "model"} | {key: extra})


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so that a job killed while writing leaves
    the old file or none, never half of one (a resumed experiment reads these files to know what is done)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def same_training(out: Path, mine: Mapping[str, Any]) -> None:
    """Refuse a directory whose experiment was trained with other options; record ours."""
    path = out / "experiment.json"
    if path.is_file():
        theirs = json.loads(path.read_text()).get("training", {})
        diff = [k for k in mine if theirs.get(k) != mine[k]]
        if diff:
            raise CotlensError(f"{out} holds an experiment trained with other options (--{diff[0].replace('_', '-')} "
                               f"{theirs.get(diff[0])}, not {mine[diff[0]]}); use a new --out")
    path.write_text(json.dumps({"training": mine}, indent=1))


def cached_eval(ckpt: Path, key: Mapping[str, Any], evaluate: Evaluate, seed: int,
                timings: dict[Path, float | None]) -> Measures:
    """The checkpoint's evaluation, kept in ``eval.json`` under ``key``; the seconds it took (None where an older
    evaluation did not keep them) go into ``timings``, one entry per checkpoint."""
    path = ckpt / "eval.json"
    if path.is_file():
        d = json.loads(path.read_text())
        if d.get("key") == key:
            timings[ckpt] = d.get("seconds")
            return {k: Estimate.from_dict(v) for k, v in d["values"].items()}
    t0 = time.time()
    values = evaluate(ckpt, seed)
    timings[ckpt] = time.time() - t0
    write_atomic(path, json.dumps({"key": key, "values": {k: v.to_dict() for k, v in values.items()},
                                "seconds": timings[ckpt]}, indent=1))
    return values


START = "start"
"""The job that evaluates a seed's start organism (step 0 of every arm)."""


@dataclass(frozen=True)
class ArmJobs:
    """What every (arm, seed) job of one experiment needs; picklable, so that a job can run in another process
    (``train`` and ``evaluate`` are module-level functions or ``functools.partial`` s of them)."""

    out: Path
    steps: tuple[int, ...]
    start: str
    tag: str
    """The key under which a checkpoint's config records what made it."""
    train: TrainArm
    evaluate: Evaluate
    eval_key: JsonObject


def arm_job(spec: ArmJobs, arm: str, seed: int) -> None:
    """One job: train ``arm`` with ``seed`` unless its checkpoints are all written, then evaluate each one not yet
    evaluated; for ``START``, evaluate the seed's start organism. Everything goes to files (``train.json``,
    ``eval.json``), which is what makes a killed experiment resumable job by job."""
    key = {**spec.eval_key, "seed": seed}
    if arm == START:
        cached_eval(spec.out / START / f"seed-{seed}", key, spec.evaluate, seed, {})
        return
    d = spec.out / arm / f"seed-{seed}"
    log_path = d / "train.json"
    if not (log_path.is_file() and all((d / f"step-{s}" / "config.json").is_file() for s in spec.steps)):
        log = spec.train(arm, seed, d)
        d.mkdir(parents=True, exist_ok=True)
        write_atomic(log_path, json.dumps(log))
    for s in spec.steps:
        cached_eval(d / f"step-{s}", key, spec.evaluate, seed, {})


def _done(spec: ArmJobs, arm: str, seed: int) -> bool:
    key = {**spec.eval_key, "seed": seed}
    d = spec.out / START / f"seed-{seed}" if arm == START else spec.out / arm / f"seed-{seed}"
    dirs = [d] if arm == START else [d / f"step-{s}" for s in spec.steps]
    if arm != START and not (d / "train.json").is_file():
        return False
    for c in dirs:
        path = c / "eval.json"
        if not (path.is_file() and json.loads(path.read_text()).get("key") == key):
            return False
    return True


def run_arms(spec: ArmJobs, arms: Sequence[str], seeds: int, workers: int = 1, launcher: str = "local",
             progress: bool = True, desc: str = "jobs",
             ) -> tuple[Evals, dict[str, dict[int, TrainLog]], tuple[float, float | None]]:
    """Run every (arm, seed) job not yet finished (``cotlens.experiments.launch``: ``workers`` at a time, each on
    one thread), then read their files. Returns per arm, seed and step the measures; per arm and seed the training
    log; and the timing (``seconds`` of this invocation, ``compute_seconds`` of all training and evaluation, None
    where an older evaluation did not keep its time)."""
    from functools import partial

    from cotlens.experiments.launch import launch

    t0 = time.time()
    out = spec.out
    begin = resolve(spec.start)
    for seed in range(seeds):  # the shared start, written once per seed; each arm's step 0 links to it
        base = out / START / f"seed-{seed}"
        if not (base / "config.json").is_file():
            m, meta = load_checkpoint(begin)
            save_step(m, base, meta, spec.tag, {"arm": START, "seed": seed, "start": spec.start, "step": 0})
        for arm in arms:
            zero = out / arm / f"seed-{seed}" / "step-0"
            if not zero.exists():
                zero.parent.mkdir(parents=True, exist_ok=True)
                zero.symlink_to(Path("..", "..", START, f"seed-{seed}"), target_is_directory=True)
    todo = [(a, s) for a in (START, *arms) for s in range(seeds) if not _done(spec, a, s)]
    launch(partial(arm_job, spec), todo, workers, launcher, out / "submitit", progress, desc)
    evals: Evals = {}
    logs: dict[str, dict[int, TrainLog]] = {}
    timings: dict[Path, float | None] = {}
    key = dict(spec.eval_key)
    for arm in arms:
        for seed in range(seeds):
            d = out / arm / f"seed-{seed}"
            logs.setdefault(arm, {})[seed] = json.loads((d / "train.json").read_text())
            k = {**key, "seed": seed}
            per_step = {0: cached_eval(out / START / f"seed-{seed}", k, spec.evaluate, seed, timings)}
            for s in spec.steps:
                per_step[s] = cached_eval(d / f"step-{s}", k, spec.evaluate, seed, timings)
            evals.setdefault(arm, {})[seed] = per_step
    timed = list(timings.values())
    compute = None if None in timed else (  # evaluations from before timings were kept: unknown
        sum(float(log.get("seconds", 0)) for arm in logs.values() for log in arm.values())
        + sum(t for t in timed if t is not None))
    return evals, logs, (time.time() - t0, compute)


def over_seeds(values: Sequence[float | None], bounded: bool = True) -> Estimate:
    """Mean over seeds with a 95% t interval (clipped to [0, 1] for a ``bounded`` measure: with three seeds a t
    interval easily leaves a rate's range); one seed: no interval."""
    from scipy import stats as st

    xs = [float(v) for v in values if v is not None]
    if not xs:
        return Estimate(None, None, 0)
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return Estimate(m, None, 1)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    h = float(st.t.ppf(0.975, len(xs) - 1)) * sd / math.sqrt(len(xs))
    lo, hi = (max(0.0, m - h), min(1.0, m + h)) if bounded else (m - h, m + h)
    return Estimate(m, (lo, hi), len(xs))


def seed_rate(event: SeedEvent, finals: Sequence[Measures]) -> SeedRate:
    """``event`` judged on each seed's final measures, with its Clopper-Pearson interval."""
    from cotlens.stats import clopper_pearson

    judged = [event.test(m) for m in finals]
    known = [j for j in judged if j is not None]
    est = clopper_pearson(sum(known), len(known))
    return SeedRate(event.rule, sum(known), len(known), est.value, est.ci, judged)


def aggregate(descriptions: Mapping[str, str], config: JsonObject, steps: list[int], evals: Evals,
              logs: dict[str, dict[int, TrainLog]], timing: tuple[float, float | None],
              unbounded: Sequence[str] = (), events: Sequence[SeedEvent] = ()) -> ArmsResult:
    """Per arm and checkpoint, each measure's mean over seeds (``over_seeds``; measures in ``unbounded`` are not
    clipped to [0, 1]) beside each seed's own estimate; and per arm each of ``events``' rate over seeds."""
    arms: dict[str, Arm] = {}
    for arm, by_seed in evals.items():
        names = list(next(iter(by_seed.values()))[0])
        points = []
        for s in steps:
            row: dict[str, OverSeeds] = {}
            for name in names:
                per_seed = [by_seed[seed][s][name] for seed in sorted(by_seed)]
                m = over_seeds([e.value for e in per_seed], name not in unbounded)
                row[name] = OverSeeds(m.value, m.ci, m.n, per_seed)
            points.append(Checkpoint(s, row))
        finals = [by_seed[seed][steps[-1]] for seed in sorted(by_seed)]
        arms[arm] = Arm(descriptions[arm], points, {str(seed): log for seed, log in logs[arm].items()},
                        {e.name: seed_rate(e, finals) for e in events})
    return ArmsResult(config, steps, arms, *timing)


def share(values: Sequence[bool], seed: int) -> Estimate:
    """The share of true values, with its bootstrap interval."""
    return mean_estimate([float(v) for v in values], seed)
