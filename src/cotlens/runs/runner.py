"""The runner: samples -> traces -> records -> summary and report, in a run directory that resumes.

A run directory holds:

- ``run.json``: the RunConfig and how many times the run was started (``attempts``);
- ``samples.jsonl``: the task samples of the run (question, choices, gold answer);
- ``traces.jsonl``: one elicited CoT per sample;
- ``records.jsonl``: one record per (metric, sample), appended and flushed as each finishes;
- ``calls.jsonl``: one line per request that reached the model backend (not the cache): attempt, unit of work,
  method and number of prompts, so anyone can check what a resumed run recomputed;
- ``summary.json`` and ``report.html``, rewritten at the end of each run.

Resuming: traces and records already in the files are not recomputed, and model calls of an unfinished unit
are answered by the SQLite call cache. Re-running with a different configuration in the same directory is
refused (use another ``--out``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import sys
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from cotlens.cost import TOKENS_PER_STEP, Shape, reads, writes
from cotlens.elicit import elicit
from cotlens.metrics import MetricContext, check_free_form, expand_metrics, get_metric
from cotlens.metrics.base import refused_record
from cotlens.models.base import GENERATE, SCORE_CHOICES, SERVED, LocalModel, Model, has, optional, require
from cotlens.models.spec import load_model
from cotlens.prompts import answer_prompt
from cotlens.runs.batcher import Batcher
from cotlens.runs.cache import CachedModel, CallCache, CallCounter, open_cache
from cotlens.runs.config import RunConfig
from cotlens.runs.cost import Meter, plan_line, usage_dict, usage_from_calls
from cotlens.runs.finished import SAMPLE_IDENTITY, read_jsonl
from cotlens.tasks import load_task
from cotlens.types import SCHEMA_VERSION, CotlensError, Prompt, Record, Sample, Summary, Trace

ELICIT_CHUNK = 16
Log = Callable[[str, int, int, int], None]
"""What a unit of work's calls are logged by: method, prompts, prompt tokens, completion tokens."""


def _append(f: TextIO, obj: dict[str, Any]) -> None:
    f.write(json.dumps(obj) + "\n")
    f.flush()
    os.fsync(f.fileno())


def truncate_partial_line(path: Path) -> None:
    """Drop a last line a kill left half-written, so appends start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


class Run:
    """One run directory and the work left in it."""

    def __init__(self, config: RunConfig, progress: bool = True) -> None:
        config = dataclasses.replace(config, metrics=expand_metrics(config.metrics))
        # bad arguments and files (hint types, word lists, model specs, labels) fail here, before any model loads
        for name in dict.fromkeys([*config.metrics, *config.args]):  # the run's metrics, and any given arguments
            metric = get_metric(name)
            if metric.check is not None:
                metric.check(config.args_for(metric))
        self.config = config
        self.dir = Path(config.out)
        self.progress = progress
        self._model: CachedModel | None = None
        self._inner: Model | None = None
        """The backend itself (a local one sits under the batcher, which passes calls on one at a time when records run
        one at a time)."""
        self._batcher: Batcher | None = None
        self._lock = threading.Lock()
        """Held to write calls.jsonl and to load a helper model, which threads computing records share."""
        self._helpers: dict[str, CachedModel] = {}
        self._cache: CallCache | None = None
        self._meter = Meter(config.max_tokens_total, out=str(self.dir))
        """The run's token meter and budget (``used`` set from calls.jsonl when the run directory opens)."""
        self._probe: Prompt | None = None
        """An answer prompt of the run's task, for probing a served model (set once the samples are loaded)."""

    # -- set-up ------------------------------------------------------------------------------------------
    def _open_dir(self, samples: Sequence[Sample]) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        meta_path = self.dir / "run.json"
        attempts = 0
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
            except json.JSONDecodeError as e:
                raise CotlensError(f"{meta_path}: not valid JSON ({e.msg})") from None
            if meta.get("config") != self.config.identity():
                raise CotlensError(
                    f"{self.dir} holds a run with a different configuration; use a new --out to start another"
                )
            attempts = int(meta.get("attempts", 0))
            self._check_same_samples(samples)
        attempts += 1
        meta_path.write_text(json.dumps({"schema": SCHEMA_VERSION, "config": self.config.identity(),
                                         "attempts": attempts}, indent=1))
        for name in ("traces.jsonl", "records.jsonl", "calls.jsonl"):
            truncate_partial_line(self.dir / name)
        self._meter.used = sum(u.tokens for u in usage_from_calls(read_jsonl(self.dir / "calls.jsonl")).values())
        return attempts

    def _call_cache(self) -> CallCache | None:
        if self._cache is None:
            self._cache = open_cache(self.config.cache)
        return self._cache

    def api_options(self) -> Any:
        from cotlens.models.openai_api import ApiOptions

        c = self.config
        return ApiOptions(concurrency=c.api_concurrency, timeout=c.api_timeout, retries=c.api_retries,
                          tokens_per_minute=c.api_tokens_per_minute, template=c.api_template, server=c.api_server)

    def model(self) -> CachedModel:
        if self._model is None:
            inner = load_model(self.config.model, dtype=self.config.dtype, batch_size=self.config.resolved_batch_size(),
                               api_options=self.api_options(), placement=self._placement())
            served = optional(inner, SERVED)
            if served is not None:  # a served model: probe it once, with an answer prompt of this task
                served.prepare(self._probe)
            require(inner, GENERATE, "eliciting a CoT")
            require(inner, SCORE_CHOICES, "reading answers from choice log-probabilities")
            for name in self.config.metrics:  # before any work: a white-box metric on a served model
                for capability in get_metric(name).requires:
                    try:
                        require(inner, capability, f"metric {name}")
                    except CotlensError as e:
                        raise CotlensError(f"{e}; name the metrics to run without it (--metrics all includes "
                                           "every metric)") from None
            self._inner = inner
            if isinstance(inner, LocalModel):  # one record at a time, it passes each call on (and counts them)
                self._batcher = Batcher(inner)
            self._model = CachedModel(self._batcher or inner, self._call_cache(), meter=self._meter)
        return self._model

    def _placement(self) -> Any:
        """``--device-map`` and ``--max-memory`` as the transformers backend's Placement (None: one device)."""
        from cotlens.models.hf import parse_placement

        return parse_placement(self.config.device_map, self.config.max_memory)

    def _helper(self, spec: str, counter: CallCounter, log: Log) -> Model:
        if spec == "self":
            return self.model().with_counter(counter, log)
        with self._lock:  # records in several threads may ask for it at once: load it once
            if spec not in self._helpers:
                inner = load_model(spec, dtype=self.config.dtype, batch_size=self.config.resolved_batch_size(),
                                   api_options=self.api_options())
                served = optional(inner, SERVED)
                if served is not None:
                    served.prepare()
                # one backend call at a time, whichever thread makes it
                self._helpers[spec] = CachedModel(Batcher(inner) if self._batcher else inner, self._call_cache(),
                                                  meter=self._meter)
        return self._helpers[spec].with_counter(counter, log)

    # -- the work ----------------------------------------------------------------------------------------
    def execute(self) -> Summary:
        """Do whatever is left of the run; return the summary it wrote to ``summary.json``."""
        from cotlens.report.html import write_report
        from cotlens.runs.summary import summarize

        notes: list[str] = []
        samples = load_task(self.config.task, self.config.n, self.config.seed, self.config.difficulty,
                            self.config.split, notes)
        check_free_form(self.config.metrics, samples, self.config.task)  # before any model loads
        choice = [s for s in samples if s.free is None]  # a served model's scoring is probed on a choice question
        self._probe = answer_prompt(choice[0], "") if choice else None
        attempt = self._open_dir(samples)
        _print_notes(notes)
        (self.dir / "samples.jsonl").write_text("".join(json.dumps(x.to_dict()) + "\n" for x in samples))
        with (self.dir / "calls.jsonl").open("a", encoding="utf-8") as calls_f:

            def logger(unit: str) -> Log:
                def log(method: str, k: int, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
                    with self._lock:
                        _append(calls_f, {"attempt": attempt, "unit": unit, "method": method, "prompts": k,
                                          "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens})

                return log

            self._print_plan(samples)
            traces = self._traces(samples, logger)
            records = self._records(samples, traces, logger)
        for name in self.config.metrics:
            metric = get_metric(name)
            if metric.write_files is not None:
                metric.write_files(self.dir, [r for r in records if r.metric == name])
        served = optional(self._inner, SERVED) if self._inner is not None else None
        summary = dataclasses.replace(
            summarize(self.config, samples, traces, records), task_notes=notes,
            # a served model: requests, retries, letters scored below the top-k (this invocation)
            backend=dict(served.stats) if served is not None and served.stats else None,
            usage=usage_dict(usage_from_calls(read_jsonl(self.dir / "calls.jsonl"))))
        _print_notes([n for m in summary.metrics.values() for n in m.notes])
        if summary.usage:
            t = summary.usage["total"]
            print(f"cotlens: used {t['calls']:,} model calls, {t['prompt_tokens']:,} prompt + "
                  f"{t['completion_tokens']:,} completion tokens (every attempt; summary.json: usage)", file=sys.stderr)
        (self.dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=1))
        write_report(self.dir, summary, samples, traces, records)
        if self._cache is not None:
            self._cache.close()
        return summary

    def _print_plan(self, samples: Sequence[Sample]) -> None:
        """The plan line (``cotlens.runs.cost``): per metric, the calls and tokens the work left will need,
        estimated from the task, the settings and the CoTs already elicited; nothing when no work is left."""
        traces = [Trace.from_dict(d) for d in read_jsonl(self.dir / "traces.jsonl")]
        done = {(d["metric"], d["sample_id"]) for d in read_jsonl(self.dir / "records.jsonl")}
        left = {name: sum((name, s.id) not in done for s in samples) for name in self.config.metrics}
        elicit_left = len(samples) - len({t.sample_id for t in traces})
        if not elicit_left and not any(left.values()):
            return
        model = self.model()
        served = self._inner is not None and has(self._inner, SERVED)
        q = sum(model.tokens_of([answer_prompt(s, "")]) for s in samples) / len(samples)
        cot = sum(t.cot_tokens for t in traces) / len(traces) if traces else float(self.config.max_new_tokens)
        steps = sum(len(t.steps) for t in traces) / len(traces) if traces else cot / TOKENS_PER_STEP
        shape = Shape(q, cot, steps, self.config.max_new_tokens, served)
        needs = {"elicit": writes(shape, 1, q, self.config.max_new_tokens) + reads(shape, 1, 1.0)}
        counts = {"elicit": elicit_left}
        for name, k in left.items():
            metric = get_metric(name)
            if k and metric.need is not None:
                needs[name] = metric.need(shape, self.config.args_for(metric))
                counts[name] = k
        line = plan_line({k: v for k, v in needs.items() if counts[k]}, counts, self.config.max_tokens_total)
        print(f"cotlens: {line}", file=sys.stderr)

    def _check_same_samples(self, samples: Sequence[Sample]) -> None:
        """A resumed run must see the samples it started with: a task file edited since would mix CoTs of old
        questions with new ones. Compared on what a model is asked (id, question, choices, answer)."""
        path = self.dir / "samples.jsonl"
        if not path.is_file():
            return
        key = SAMPLE_IDENTITY
        before = {d["id"]: [d[k] for k in key] for d in read_jsonl(path)}
        now = {d["id"]: [d[k] for k in key] for d in (s.to_dict() for s in samples)}
        changed = [i for i in before if i in now and before[i] != now[i]]
        if changed or before.keys() != now.keys():
            what = (f"sample {changed[0]!r} changed" if changed else
                    f"{len(now.keys() - before.keys())} samples added, {len(before.keys() - now.keys())} gone")
            raise CotlensError(f"{self.config.task}: differs from the samples this run started with ({what}; see "
                               f"{path}); restore the task, or use a new --out")

    def _check_lengths(self, inner: Model, samples: Sequence[Sample]) -> None:
        """Before any CoT is written: every sample's answer prompt must fit the model's context, with room for a
        CoT (a served model's server checks this itself). A CoT that grows past the context later stops the run
        when its answer is read, in one line, with the finished work kept."""
        if not isinstance(inner, LocalModel) or inner.context_length is None:
            return
        for s in samples:
            need = inner.prompt_tokens(answer_prompt(s, ""))
            if need >= inner.context_length:
                raise CotlensError(
                    f"sample {s.id!r}: its question and answer prompt take {need} tokens, which leaves no room for a "
                    f"CoT in {self.config.model}'s context of {inner.context_length} tokens; shorten or drop it")

    def _traces(self, samples: Sequence[Sample], logger: Callable[[str], Log]
                ) -> dict[str, Trace]:
        path = self.dir / "traces.jsonl"
        traces = {d["sample_id"]: Trace.from_dict(d) for d in read_jsonl(path)}
        todo = [s for s in samples if s.id not in traces]
        if not todo:
            return traces
        model = self.model()
        assert self._inner is not None  # loaded by self.model()
        self._check_lengths(self._inner, todo)
        bar = tqdm(total=len(todo), desc="eliciting CoTs", unit="sample", disable=not self.progress)
        with path.open("a", encoding="utf-8") as f:
            step = max(ELICIT_CHUNK, self.config.resolved_batch_size())  # a chunk's CoTs are one batch
            for i in range(0, len(todo), step):
                chunk = todo[i : i + step]
                m = model.with_counter(CallCounter(), logger("elicit:" + ",".join(s.id for s in chunk)))
                for t in elicit(m, chunk, self.config.generation(), self.config.seed):
                    traces[t.sample_id] = t
                    _append(f, t.to_dict())
                bar.update(len(chunk))
        bar.close()
        return traces

    def _records(self, samples: Sequence[Sample], traces: dict[str, Trace],
                 logger: Callable[[str], Log]) -> list[Record]:
        path = self.dir / "records.jsonl"
        done = {(d["metric"], d["sample_id"]): Record.from_dict(d) for d in read_jsonl(path)}
        todo = [(name, s) for name in self.config.metrics for s in samples if (name, s.id) not in done]
        for name in dict.fromkeys(n for n, _ in todo):  # a costly metric says what it will cost, before it starts
            metric = get_metric(name)
            if metric.plan is not None:
                mine = [traces[s.id] for n, s in todo if n == name]
                print(f"cotlens: {name}: {metric.plan(mine, self.config.args_for(metric))}", file=sys.stderr)
        if todo:
            bar = tqdm(total=len(todo), desc="metrics", unit="record", disable=not self.progress)

            def one(name: str, s: Sample) -> Record:
                metric = get_metric(name)
                if metric.needs_raw_cot and traces[s.id].reasoning != "raw":  # before any call: a summary's CoT
                    return refused_record(metric, self.config.args_for(metric), traces[s.id])
                counter = CallCounter()
                log = logger(f"{name}:{s.id}")
                ctx = MetricContext(
                    model=self.model().with_counter(counter, log),
                    helper=partial(self._helper, counter=counter, log=log),
                    samples=samples,
                    note=partial(_postfix, bar, name),
                )
                rng = random.Random(f"{self.config.seed}:{name}:{s.id}")
                rec = metric.run(ctx, s, traces[s.id], rng, self.config.args_for(metric))
                return dataclasses.replace(rec, model_calls=counter.calls, cached_calls=counter.cached)

            with path.open("a", encoding="utf-8") as f:

                def keep(rec: Record) -> None:
                    done[(rec.metric, rec.sample_id)] = rec
                    _append(f, rec.to_dict())
                    bar.update(1)

                self.model()  # loaded here, before any thread asks for it
                batcher = self._batcher
                workers = self.config.resolved_concurrency(len(todo))
                if batcher is None or workers <= 1:
                    for name, s in todo:
                        bar.set_postfix_str(name)
                        keep(one(name, s))
                else:  # several records at once, each in a thread; their model calls meet in the batcher
                    for rec in batcher.map(lambda job: one(*job), todo, workers):
                        keep(rec)
            bar.close()
        records = [done[(name, s.id)] for name in self.config.metrics for s in samples]
        pooled = self._pool(records)
        written = [(d["metric"], d["sample_id"]) for d in read_jsonl(path)]
        # a metric fitted across samples (a probe) writes its values in full; records computed at once were
        # appended as each finished: the file is rewritten in the run's order (metric, then sample)
        if pooled != records or written != [(r.metric, r.sample_id) for r in records]:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in pooled), encoding="utf-8")
            os.replace(tmp, path)
        return pooled

    def _pool(self, records: list[Record]) -> list[Record]:
        """Records with the values of cross-sample metrics (``Metric.pool``) filled in."""
        out = list(records)
        for name in self.config.metrics:
            metric = get_metric(name)
            if metric.pool is None:
                continue
            idx = [i for i, r in enumerate(out) if r.metric == name]
            for i, r in zip(idx, metric.pool([out[i] for i in idx], self.config.seed), strict=True):
                out[i] = r
        return out


def _postfix(bar: Any, name: str, text: str) -> None:
    bar.set_postfix_str(f"{name}: {text}")


def _print_notes(notes: Sequence[str], most: int = 5) -> None:
    """Notes on how the input was read: the first few on stderr (all of a task's are in summary.json)."""
    for n in notes[:most]:
        print(f"cotlens: note: {n}", file=sys.stderr)
    if len(notes) > most:
        print(f"cotlens: note: ... and {len(notes) - most} more like these (summary.json: task_notes)",
              file=sys.stderr)


def run(config: RunConfig, progress: bool = True) -> Summary:
    """Run (or resume) ``config``; return the summary it wrote to ``summary.json`` (``Summary.to_dict``)."""
    return Run(config, progress).execute()
