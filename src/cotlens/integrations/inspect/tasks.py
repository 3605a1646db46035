"""cotlens's batteries as Inspect tasks: ``inspect eval cotlens/lanham --model PROVIDER/MODEL``, ``cotlens/hints``;
its monitors as a scorer of any task's transcripts: ``inspect score LOG --scorer cotlens/monitor``.

Registered with Inspect through the ``inspect_ai`` entry point (``cotlens.integrations.inspect.registry``), so an
Inspect user runs
them with the tools they know and reads the CoTs, the interventions' answers and the numbers in ``inspect
view``. Task options are ``cotlens run``'s, as ``-T NAME=VALUE`` (``-T task=arithmetic -T n=20 -T seed=0
-T max_new_tokens=256 -T max_positions=4``; lists comma-separated: ``-T hints=sycophancy,metadata``); the task
defaults to the built-in ``arithmetic``.

Per sample, the solver does what ``cotlens run`` does (``cotlens.runs.runner``): elicit the CoT with the run's
generation settings and seed, then each metric with the same per-record random stream
(``random.Random(f"{seed}:{metric}:{sample_id}")``), every model call going through the Inspect model under
evaluation (``cotlens.models.inspect_api``, so calls appear in the log's transcript). The sample's messages become
the question and the CoT, its output the answer read after the CoT.

One scorer per metric: its value is the record's per-sample score (NaN where the metric does not apply), its
metadata the whole record (the evidence, as in ``records.jsonl``). Each scorer's Inspect metrics are the metric's
headline as ``cotlens run``'s ``summary.json`` has it, with the same bootstrap interval (``value``, ``ci_low``,
``ci_high``, ``n``), computed from the records by the same code (``cotlens.runs.summary.metric_summary``). So on
the same model, samples and settings, greedy, the numbers are ``cotlens run``'s (a test checks it).

Not here: metrics fitted across samples (the latent probe: ``cotlens run`` pools them after every record), and
``cotlens run``'s call cache and resume (Inspect has its own: ``--cache-prompt``, ``inspect eval-retry``).
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.dataset import Sample as InspectSample
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ModelOutput, get_model
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, mean, metric, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver

from cotlens.elicit import elicit
from cotlens.metrics import DEFAULT_METRICS, METRICS, check_free_form, expand_metrics, get_metric
from cotlens.metrics.base import MetricContext
from cotlens.models.base import Model
from cotlens.models.inspect_api import InspectModel
from cotlens.models.spec import load_model
from cotlens.options import options
from cotlens.runs.config import RunConfig
from cotlens.runs.summary import metric_summary
from cotlens.tasks import load_task
from cotlens.types import FREE_ANSWER, LETTERS, CotlensError, JsonObject, Record, Sample, Trace


def as_text(value: str | list[Any] | tuple[Any, ...]) -> str:
    """A task option as the command line's text: Inspect's CLI turns ``-T hints=a,b`` into the list ``[a, b]``,
    Python callers may pass a string or a list."""
    return value if isinstance(value, str) else ",".join(str(x) for x in value)


def run_config(metrics: tuple[str, ...], given: JsonObject) -> RunConfig:
    """A RunConfig from task options (strings as on the command line, or values), the metrics fixed by the task."""
    fields: JsonObject = {}
    args: dict[str, JsonObject] = {}
    known: dict[str, tuple[str, Any]] = {o.name: ("run", o) for o in options(RunConfig)}
    for m in METRICS:  # as cotlens run: every metric's options (those of a metric not run have no effect)
        for o in options(get_metric(m).args_type):
            known[o.name] = (m, o)
    for key, value in given.items():
        if key in ("metrics", "out", "cache", "model") or key not in known:
            raise CotlensError(f"cotlens task option {key!r}: not an option of cotlens run")
        where, o = known[key]
        v = o.parse(as_text(value)) if isinstance(value, str | list | tuple) else value
        (fields if where == "run" else args.setdefault(where, {}))[key] = v
    for m in metrics:
        if get_metric(m).pool is not None:
            raise CotlensError(f"metric {m} is fitted across samples; run it with cotlens run")
    return RunConfig(model="inspect", out="", metrics=metrics, **{"task": "arithmetic", **fields},
                     args={m: get_metric(m).args_type(**kw) for m, kw in args.items()})


def _headline(name: str, seed: int, args: JsonObject, scores: list[SampleScore]) -> Any:
    """The metric's ``summary.json`` entry from the records the scores carry (None without any)."""
    recs = [Record.from_dict(s.score.metadata["record"]) for s in scores
            if s.score.metadata and "record" in s.score.metadata]
    return metric_summary(name, recs, seed, get_metric(name).args_type(**args)) if recs else None


def _part(head: Any, part: str) -> float:
    """One number of a ``MetricSummary`` (NaN where there is none)."""
    if head is None:
        return math.nan
    ci = head.ci or (None, None)
    v = {"value": head.value, "n": head.n, "ci_low": ci[0], "ci_high": ci[1]}[part]
    return math.nan if v is None else float(v)


def _headline_metric(part: str, doc: str) -> Callable[[str, int, JsonObject], Metric]:
    """An Inspect metric named ``part`` (value, ci_low, ci_high, n) of the metric's ``summary.json`` entry."""
    def make(name: str, seed: int, args: JsonObject) -> Metric:
        def compute(scores: list[SampleScore]) -> float:
            return _part(_headline(name, seed, args, scores), part)
        return compute

    make.__doc__ = doc
    return metric(part)(make)


value = _headline_metric("value", "The metric's headline, as ``summary.json`` has it.")
ci_low = _headline_metric("ci_low", "The lower end of the headline's 95% bootstrap interval.")
ci_high = _headline_metric("ci_high", "The upper end of the headline's 95% bootstrap interval.")
n = _headline_metric("n", "Samples the headline is over.")


def metric_scorer(name: str, config: RunConfig) -> Scorer:
    """The scorer of one metric: the record the solver left in the sample's metadata."""
    kw = dataclasses.asdict(config.args_for(get_metric(name)))
    ms = [value(name, config.seed, kw), ci_low(name, config.seed, kw), ci_high(name, config.seed, kw),
          n(name, config.seed, kw)]

    def make() -> Scorer:
        async def score(state: TaskState, target: Target) -> Score:
            rec = state.metadata.get("cotlens_records", {}).get(name)
            if rec is None:
                return Score(value=math.nan, explanation="no record (the solver failed on this sample)")
            s = rec["score"]
            return Score(value=math.nan if s is None else float(s), answer=str(rec["values"]),
                         explanation=f"{name} v{rec['metric_version']}", metadata={"record": rec})
        return score

    return scorer(metrics=ms, name=name)(make)()


def _on_inspect_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on Inspect's event loop from the worker thread the solver's cotlens work runs in."""
    import anyio.from_thread

    async def wait() -> Any:
        return await coro

    return anyio.from_thread.run(wait)


@solver
def cotlens_solver(config: RunConfig, samples: list[Sample]) -> Solver:
    """Elicit the sample's CoT and run each metric on it with the model under evaluation (see the module)."""
    by_id = {s.id: s for s in samples}
    wrapped: dict[int, InspectModel] = {}  # per Inspect model: probed once, not once per sample
    lock = threading.Lock()

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        import anyio.to_thread

        active = get_model()
        sample = by_id[str(state.sample_id)]

        def work() -> tuple[Trace, list[Record]]:
            with lock:
                if id(active) not in wrapped:
                    wrapped[id(active)] = InspectModel.of(active, _on_inspect_loop)
                model = wrapped[id(active)]
            helpers: dict[str, Model] = {}

            def helper(spec: str) -> Model:
                if spec == "self":
                    return model
                if spec not in helpers:
                    helpers[spec] = load_model(spec, dtype=config.dtype)
                return helpers[spec]

            [trace] = elicit(model, [sample], config.generation(), config.seed)
            ctx = MetricContext(model=model, helper=helper, samples=samples)
            recs = []
            for name in config.metrics:
                m = get_metric(name)
                rng = random.Random(f"{config.seed}:{name}:{sample.id}")
                recs.append(m.run(ctx, sample, trace, rng, config.args_for(m)))
            return trace, recs

        trace, recs = await anyio.to_thread.run_sync(work)
        state.metadata["cotlens_trace"] = trace.to_dict()
        state.metadata["cotlens_records"] = {r.metric: r.to_dict() for r in recs}
        kinds = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
        state.messages = [kinds[m.role](content=m.content) for m in trace.prompt.messages]
        state.messages.append(ChatMessageAssistant(content=trace.prompt.prefill + trace.cot))
        said = (trace.answer_text or "") if trace.answer == FREE_ANSWER else LETTERS[trace.answer]
        state.output = ModelOutput.from_content(model=str(active), content=said)
        return state

    return solve


def battery(metrics: tuple[str, ...], given: JsonObject) -> Task:
    config = run_config(metrics, given)
    samples = load_task(config.task, config.n, config.seed, config.difficulty, config.split)
    check_free_form(config.metrics, samples, config.task)
    dataset = MemoryDataset([InspectSample(input=s.question, target=s.free.target if s.free else LETTERS[s.answer],
                                           id=s.id,
                                           choices=list(s.choices), metadata={"cotlens_sample": s.to_dict()})
                             for s in samples], name=config.task)
    return Task(dataset=dataset, solver=cotlens_solver(config, samples),
                scorer=[metric_scorer(m, config) for m in metrics],
                metadata={"cotlens_config": config.flat()})


LANHAM_METRICS = ",".join(DEFAULT_METRICS)
"""``cotlens/lanham``'s metrics unless ``-T metrics=...`` names others."""


@task
def lanham(metrics: str | list[str] = LANHAM_METRICS, **options: Any) -> Task:
    """Lanham et al. (2023): early answering, adding mistakes, filler tokens and the no-CoT baseline (or the
    ``metrics`` named, comma-separated or a list) on a cotlens task. Options: ``cotlens run``'s."""
    return battery(expand_metrics(tuple(m.strip() for m in as_text(metrics).split(",") if m.strip())), options)


@task
def hints(**options: Any) -> Task:
    """Chen et al. (2025) / Turpin et al. (2023): does the CoT say that a hint moved the answer? Options:
    ``cotlens run``'s and the hints metric's (``hints``, ``judges``...)."""
    return battery(("hints",), options)


@scorer(metrics=[mean(), stderr()])
def monitor(monitor: str = "rule", scope: str = "all", dtype: str = "auto") -> Scorer:
    """A cotlens CoT monitor as an Inspect scorer, for any task's transcripts (``inspect score LOG --scorer
    cotlens/monitor -S monitor=rule -S scope=cot``): the sample's conversation read as an episode
    (``cotlens.integrations.inspect.log``: the CoT is the assistant's reasoning and every message but the last, the
    action
    the last message's text and tool calls), scored by the monitor. The value is the suspicion in [0, 1] (NaN where
    the monitor abstains), the explanation what it saw. ``monitor``: ``rule`` or a cotlens model spec for an LLM
    monitor (``SPEC~PROMPT``); the probe monitor is fitted across episodes and is not a scorer (use ``cotlens
    monitor --episodes LOG.eval``)."""
    from cotlens.integrations.inspect.log import transcript_episode
    from cotlens.monitors.base import SCOPES
    from cotlens.monitors.make import make_monitor

    if scope not in SCOPES:
        raise CotlensError(f"monitor scope {scope!r}: scopes are {', '.join(SCOPES)}")
    if monitor.startswith("probe:"):
        raise CotlensError("the probe monitor is fitted across episodes: run cotlens monitor --episodes LOG.eval")
    loaded: dict[str, Model] = {}

    def helper(spec: str) -> Model:
        if spec not in loaded:
            loaded[spec] = load_model(spec, dtype=dtype)
        return loaded[spec]

    reader = make_monitor(monitor, helper)

    async def score(state: TaskState, target: Target) -> Score:
        import anyio.to_thread

        where = f"sample {state.sample_id!r}"
        episode = transcript_episode(str(state.sample_id), list(state.messages), False, where)
        [s] = await anyio.to_thread.run_sync(lambda: reader.read([episode], scope))
        return Score(value=math.nan if s.score is None else s.score, explanation=s.evidence or "no cue",
                     metadata={"monitor": monitor, "version": reader.version, "scope": scope})

    return score


TASKS: dict[str, Callable[..., Task]] = {"lanham": lanham, "hints": hints}
