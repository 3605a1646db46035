"""``cotlens monitor``: monitors over labelled episodes, scored as the monitorability literature scores them.

Episodes come from a JSONL file (``cotlens.monitors.episodes``) or a finished run directory: every record whose
metric turns into episodes (``Metric.episodes``: ``hints``, ``counterfactual_edits``). The output directory
holds:

- ``episodes.jsonl``: the episodes scored;
- ``scores.jsonl``: one line per (monitor, scope, episode): suspicion, evidence, monitor version; appended as each
  batch finishes, so a killed command resumes where it stopped (LLM calls also go through the call cache);
- ``monitor.json``: per monitor and scope, AUROC, TPR/FPR/g-mean² at 1% and 5% FPR with thresholds chosen on
  held-out negatives, and the intervention-normalised score per arm (``cotlens.monitors.evaluate``), each with a
  95% bootstrap CI; the same per kind of misbehaviour when the episodes hold several;
- ``report.html``: the tables and ROC curves per scope.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from tqdm import tqdm

from cotlens.metrics import get_metric
from cotlens.models.base import Model
from cotlens.models.spec import check_spec, load_model
from cotlens.monitoring.result import MonitorResult
from cotlens.monitors.base import SCOPES, Monitor
from cotlens.monitors.episodes import apply_labels, check_labels, read_episodes, write_episodes
from cotlens.monitors.evaluate import MonitorEvaluation, evaluate, roc_points
from cotlens.monitors.make import make_monitor
from cotlens.monitors.rubric import Behavior, Rubric, RubricMonitor, load_rubric, rubric_monitor_name
from cotlens.options import as_dict
from cotlens.prompts import MONITOR_PROMPTS, RUBRIC_VERSION
from cotlens.runs.cache import CachedModel, CallCache, open_cache
from cotlens.runs.finished import load_finished, read_jsonl
from cotlens.runs.runner import truncate_partial_line
from cotlens.types import SCHEMA_VERSION, CotlensError, Episode, JsonObject

BATCH = 32


@dataclass(frozen=True)
class Entry:
    """One monitor a command runs: its name in the results, how to make it, and what its scores record."""

    name: str
    make: Callable[[], Monitor]
    recorded: JsonObject


def rubric_record(rubric: Rubric) -> JsonObject:
    """What ``monitor.json`` keeps of a rubric: its file, hash and text, and each behaviour's hash."""
    return {"file": rubric.path, "name": rubric.name, "sha256": rubric.sha256, "text": rubric.text,
            "behaviors": {b.name: b.sha256 for b in rubric.behaviors}, "prompt_version": RUBRIC_VERSION}


@dataclass(frozen=True)
class MonitorConfig:
    """What ``cotlens monitor`` does. Each field is one of its options (``cotlens.options``)."""

    episodes: str
    """a JSONL file of episodes, a finished cotlens run directory (its hints and counterfactual_edits records), or
    an Inspect log (.eval, .json: a cotlens/hints evaluation, or agent transcripts labelled by --label-scorer)"""
    out: str
    """output directory (created; an existing one is resumed)"""
    monitors: tuple[str, ...] = ("rule",)
    """comma-separated monitors: rule (cue patterns); probe:SPEC (a linear probe on SPEC's residual stream,
    cross-fitted on the episodes' labels); or a model spec for an LLM monitor (self: the run's own model, for a
    run directory); SPEC~PROMPT picks the LLM monitor's prompt (misbehaviour, faithful)"""
    scopes: tuple[str, ...] = ("cot", "action", "all")
    """what each monitor reads: cot, action, all (both); of an agent's trajectory also reasoning, actions (its
    messages and tool calls), tool_outputs, final (its last message and calls), all (every turn)"""
    seed: int = 0
    """seed for folds and bootstrap"""
    dtype: str = "auto"
    """dtype of an LLM monitor, as for run"""
    batch_size: int = 8
    """prompts per forward pass of an LLM monitor"""
    cache: str | None = field(default=None)
    """call cache file (default $COTLENS_CACHE_DIR/calls.sqlite; 'none' disables)"""
    by: str = ""
    """also break every number down by this metadata field of the episodes (stress: by stress prompt)"""
    label_scorer: str = ""
    """an Inspect log of transcripts: the scorer whose value (1, C, true) marks a sample as misbehaved (default:
    each sample's 'misbehaved' metadata)"""
    rubric: str = ""
    """a rubric file (YAML or TOML) of behaviours, each with a definition, what counts and what does not, and
    examples: every LLM monitor scores each behaviour apart, as 'SPEC [BEHAVIOUR]' (cotlens.monitors.rubric)"""
    labels: str = ""
    """a JSONL file of human labels for episodes that have none (id, misbehaved: true, false or null), as the
    review page (review.html in --out) saves them: the monitors are then scored on them too, and calibrated"""
    fail_above: float | None = None
    """exit 1 when any monitor and scope flags a larger share of the episodes than this (its own yes/no: a rule
    that matched, an LLM's P(yes) over one half; labelled or not), to gate a model in CI; 0 when none does"""


def episodes_from_run(run_dir: Path) -> tuple[list[Episode], str | None]:
    """A finished run's records as episodes, and the run's model spec (for ``self``)."""
    run = load_finished(run_dir)
    samples, traces = run.samples, run.traces
    pool = list(samples.values())
    out: list[Episode] = []
    kinds = set()
    for rec in run.records:
        kinds.add(rec.metric)
        metric = get_metric(rec.metric)
        if metric.episodes is None or rec.sample_id not in traces:
            continue
        eps = metric.episodes(rec, samples[rec.sample_id], traces[rec.sample_id], pool)
        kind = traces[rec.sample_id].reasoning
        if kind != "raw":  # monitors still read it, labelled: the provider's summary (or nothing), not the reasoning
            eps = [replace(e, metadata={**e.metadata, "reasoning": kind}) for e in eps]
        out += eps
    if not out:
        raise CotlensError(f"{run_dir}: none of its metrics ({', '.join(sorted(kinds)) or 'no records'}) gives "
                           "episodes; run it with --metrics hints or counterfactual_edits")
    return out, str(run.config["model"])


INSPECT_LOGS = (".eval", ".json")
"""Suffixes of Inspect logs (``cotlens.integrations.inspect.log``); anything else is read as episodes JSONL."""


def load_episodes(source: str, label_scorer: str = "") -> tuple[list[Episode], str | None]:
    path = Path(source)
    if path.is_dir():
        return episodes_from_run(path)
    if not path.is_file():
        raise CotlensError(f"{source}: no such file or run directory")
    if path.suffix in INSPECT_LOGS:
        from cotlens.integrations.inspect.log import episodes_from_inspect_log

        return episodes_from_inspect_log(path, label_scorer)
    if label_scorer:
        raise CotlensError(f"--label-scorer: {source} is not an Inspect log (.eval or .json)")
    return read_episodes(path), None


class MonitorRun:
    def __init__(self, config: MonitorConfig, progress: bool = True) -> None:
        if not config.monitors:
            raise CotlensError("--monitors is empty: name at least one (rule, or a model spec)")
        for s in config.scopes:
            if s not in SCOPES:
                raise CotlensError(f"--scopes: unknown scope {s!r}; scopes: {', '.join(SCOPES)}")
        if not config.scopes:
            raise CotlensError("--scopes is empty")
        self.config = config
        self.progress = progress
        self.dir = Path(config.out)
        self.episodes, self.run_model = load_episodes(config.episodes, config.label_scorer)
        if config.labels:
            self.episodes = apply_labels(self.episodes, Path(config.labels))
        check_labels(self.episodes, config.episodes)
        if config.fail_above is not None and not 0.0 <= config.fail_above <= 1.0:
            raise CotlensError(f"--fail-above {config.fail_above:g}: a share, from 0 to 1")
        unlabelled = sum(e.misbehaved is None for e in self.episodes)
        probes = [m for m in config.monitors if m.startswith("probe:")]
        odd = [s for s in config.scopes if s not in ("cot", "action", "all")]
        if probes and odd:
            raise CotlensError(f"--monitors {probes[0]}: a probe reads the residual stream where the CoT ends and "
                               f"where the answer is read (scopes cot, action, all), not --scopes {odd[0]}")
        if probes and unlabelled:
            raise CotlensError(f"--monitors {probes[0]}: a probe is fitted on the episodes' labels, and {unlabelled} "
                               f"of {config.episodes}'s episodes have none ('misbehaved')")
        if config.by and not any(config.by in e.metadata for e in self.episodes):
            raise CotlensError(f"--by {config.by}: no episode has that metadata field")
        for m in config.monitors:  # before any model loads
            base, _, prompt = m.removeprefix("probe:").partition("~")
            if prompt and prompt not in MONITOR_PROMPTS:
                raise CotlensError(f"--monitors {m}: unknown prompt {prompt!r}; prompts: {', '.join(MONITOR_PROMPTS)}")
            if base not in ("rule", "self"):
                check_spec(base, "--monitors")
            if base == "self" and self.run_model is None:
                raise CotlensError("--monitors self names a run's own model: give --episodes a run directory")
        self._cache: CallCache | None = None
        self._models: dict[str, Model] = {}
        self.rubric = load_rubric(Path(config.rubric)) if config.rubric else None
        self.entries = self._entries()

    def _entries(self) -> list[Entry]:
        """(name, how to make it, fields recorded with its scores) per monitor to run: a rubric turns each LLM
        monitor into one per behaviour."""
        out: list[Entry] = []
        for spec in self.config.monitors:
            llm = spec != "rule" and not spec.startswith("probe:")
            if self.rubric is None or not llm:
                out.append(Entry(spec, partial(make_monitor, spec, self._model, self.config.seed), {}))
                continue
            if "~" in spec:
                raise CotlensError(f"--monitors {spec}: with --rubric an LLM monitor asks the rubric's behaviours, "
                                   "not a named prompt")
            for b in self.rubric.behaviors:
                out.append(Entry(rubric_monitor_name(spec, b),
                                 partial(self._rubric_monitor, spec, b),
                                 {"rubric": self.rubric.path, "rubric_sha256": self.rubric.sha256,
                                  "behavior": b.name, "behavior_sha256": b.sha256}))
        if self.rubric is not None and all(not e.recorded for e in out):
            raise CotlensError("--rubric is read by LLM monitors: name one in --monitors (a model spec, or self)")
        return out

    def _rubric_monitor(self, spec: str, behavior: Behavior) -> Monitor:
        assert self.rubric is not None
        return RubricMonitor(spec, self._model(spec), self.rubric, behavior)

    def _model(self, spec: str) -> Model:
        """The model behind an LLM monitor, loaded once per spec, when a monitor first needs it."""
        if spec not in self._models:
            if self._cache is None:
                self._cache = open_cache(self.config.cache)
            inner = load_model(self.run_model if spec == "self" and self.run_model else spec,
                               dtype=self.config.dtype, batch_size=self.config.batch_size)
            self._models[spec] = CachedModel(inner, self._cache)
        return self._models[spec]

    def execute(self) -> MonitorResult:
        from cotlens.monitoring.report import write_monitor_report, write_review_page

        self.dir.mkdir(parents=True, exist_ok=True)
        scores_path = self.dir / "scores.jsonl"
        eps_path = self.dir / "episodes.jsonl"
        # labels added later (--labels) leave the scores valid, except a probe's, which is fitted on them
        fitted = any(m.startswith("probe:") for m in self.config.monitors)

        def same(d: JsonObject) -> JsonObject:
            return d if fitted else {k: v for k, v in d.items() if k != "misbehaved"}

        if scores_path.exists() and eps_path.exists() and [same(json.loads(x)) for x in
                                                           eps_path.read_text().splitlines()
                                                           ] != [same(e.to_dict()) for e in self.episodes]:
            raise CotlensError(f"{self.dir} holds the scores of other episodes than {self.config.episodes}'s; use "
                               "a new --out")
        write_episodes(eps_path, self.episodes)
        if self.rubric is not None:
            (self.dir / "rubric.txt").write_text(self.rubric.text, encoding="utf-8")
        truncate_partial_line(scores_path)  # a line a kill left half-written
        done: dict[tuple[str, str, str], JsonObject] = {}
        current = {e.name: e.recorded for e in self.entries}
        for d in read_jsonl(scores_path):
            # a rubric behaviour whose text changed has a new hash: its old scores are not reused (those of a
            # behaviour whose text stayed are, whatever else changed in the file)
            want = current.get(d["monitor"], {}).get("behavior_sha256")
            if want is None or d.get("behavior_sha256") == want:
                done[(d["monitor"], d["scope"], d["episode"])] = d
        with scores_path.open("a", encoding="utf-8") as f:
            for entry in self.entries:
                spec = entry.name
                monitor: Monitor | None = None
                for scope in self.config.scopes:
                    todo = [e for e in self.episodes if (spec, scope, e.id) not in done]
                    if not todo:
                        continue
                    if monitor is None:
                        monitor = entry.make()
                    step = BATCH
                    if monitor.fitted:  # fitted across all episodes: read them all, in one piece
                        todo, step = list(self.episodes), len(self.episodes)
                    bar = tqdm(total=len(todo), desc=f"monitor {spec} ({scope})", unit="episode",
                               disable=not self.progress)
                    for i in range(0, len(todo), step):
                        chunk = todo[i: i + step]
                        for e, s in zip(chunk, monitor.read(chunk, scope), strict=True):
                            row = {"monitor": spec, "version": monitor.version, "scope": scope, "episode": e.id,
                                   "score": s.score, "evidence": s.evidence, **entry.recorded,
                                   **({"locations": [x.to_dict() for x in s.locations]} if s.locations else {})}
                            done[(spec, scope, e.id)] = row
                            f.write(json.dumps(row) + "\n")
                        f.flush()
                        bar.update(len(chunk))
                    bar.close()
        if self._cache is not None:
            self._cache.close()
        result = self.summarize(done)
        (self.dir / "monitor.json").write_text(json.dumps(result.to_dict(), indent=1))
        write_monitor_report(self.dir, result, self.episodes, done)
        write_review_page(self.dir, self.episodes, done, self.config.seed)
        return result

    def _split(self, scores: Sequence[float | None], key: Callable[[Episode], str]) -> dict[str, MonitorEvaluation]:
        """Every number again for each value of ``key`` (in the episodes' order)."""
        keys = dict.fromkeys(key(e) for e in self.episodes)
        return {k: evaluate([e for e in self.episodes if key(e) == k],
                            [s for e, s in zip(self.episodes, scores, strict=True) if key(e) == k], self.config.seed)
                for k in keys}

    def summarize(self, done: dict[tuple[str, str, str], JsonObject]) -> MonitorResult:
        behaviors = sorted({e.behavior for e in self.episodes})
        results: dict[str, dict[str, MonitorEvaluation]] = {}
        for spec in (e.name for e in self.entries):
            results[spec] = {}
            for scope in self.config.scopes:
                scores = [done[(spec, scope, e.id)]["score"] for e in self.episodes]
                results[spec][scope] = replace(
                    evaluate(self.episodes, scores, self.config.seed), roc=roc_points(self.episodes, scores),
                    by_behavior=self._split(scores, lambda e: e.behavior) if len(behaviors) > 1 else None,
                    by=self._split(scores, lambda e: str(e.metadata.get(self.config.by))) if self.config.by else None)
        return MonitorResult(SCHEMA_VERSION, as_dict(self.config), len(self.episodes),
                             sum(e.misbehaved is True for e in self.episodes), behaviors,
                             dict(Counter(e.arm for e in self.episodes)), self.run_model, results,
                             None if self.rubric is None else rubric_record(self.rubric))


def over_threshold(result: MonitorResult, rate: float) -> list[str]:
    """One line per monitor and scope whose flagged share is above ``rate`` (``--fail-above``)."""
    out = []
    for spec, scopes in result.results.items():
        for scope, r in scopes.items():
            share = r.flagged.value if r.flagged is not None else None
            if share is not None and share > rate:
                flagged = round(share * r.n)
                out.append(f"{spec} ({scope}) flagged {flagged} of {r.n} episodes: {share:.3f} > {rate:g}")
    return out


def monitor(config: MonitorConfig, progress: bool = True) -> MonitorResult:
    """Run (or resume) ``config``; return what it wrote to ``monitor.json``."""
    return MonitorRun(config, progress).execute()
