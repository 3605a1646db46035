"""The data that flows through cotlens: Sample -> Trace -> Record -> Summary.

Every type is a frozen dataclass with a ``to_dict``/``from_dict`` pair so that it can be written to JSONL and
read back without pickles. ``SCHEMA_VERSION`` is written into every record and summary; bump it when a field's
meaning changes.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

SCHEMA_VERSION = 2
LETTERS = string.ascii_uppercase
T = TypeVar("T")

JsonObject = dict[str, Any]
"""A JSON object at the boundary: a request or response body on the wire, a row of a file being parsed, a result's
``to_dict``, and the sections that are free-form by design (a record's ``details`` and ``args``, a sample's
``metadata``, a run's options). Results passed between cotlens's own modules are dataclasses (``JsonResult``)."""


class CotlensError(Exception):
    """An error caused by the user's input (a file, an argument, a spec): reported in one line, exit code 2."""


OMIT_NONE = {"omit_none": True}
"""Field metadata: ``to_json`` leaves the field out while it is None (a key that is absent, not null, in the file)."""
FLATTEN = {"flatten": True}
"""Field metadata (one field of a ``JsonResult``, a mapping): written spread among the other fields' keys, read back
from the keys that are not theirs (a checkpoint's ``{"step": 2, MEASURE: ..., ...}``)."""


def to_json(obj: Any) -> Any:
    """A result (dataclasses nested in dicts and lists) as JSON-ready data: each dataclass's fields in declaration
    order (one that defines ``to_dict`` writes itself), tuples as lists. The writer shared by every typed result
    (validation, monitor, compare, the experiments)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        own = getattr(type(obj), "to_dict", None)
        return own(obj) if own is not None and own is not JsonResult.to_dict else _fields(obj)
    if isinstance(obj, Mapping):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    return obj


def _fields(obj: Any) -> JsonObject:
    out: JsonObject = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("omit_none") and value is None:
            continue
        if f.metadata.get("flatten"):
            out.update(to_json(value))
        else:
            out[f.name] = to_json(value)
    return out


def from_json(cls: type[T], data: object, where: str) -> T:
    """``data`` (read from a JSON file) as ``cls``, a result dataclass, checked field by field by pydantic; a
    mismatch is one line naming ``where`` and the field's path."""
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(cls).validate_python(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "top level"
        raise CotlensError(f"{where}: {loc}: {err['msg']}") from None


class JsonResult:
    """A result file's type: ``to_dict`` writes it (``to_json``), ``from_dict`` reads it back, checked."""

    def to_dict(self) -> JsonObject:
        return _fields(self)

    @classmethod
    def from_dict(cls: type[T], d: Mapping[str, Any], where: str = "result") -> T:
        return from_json(cls, d, where)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """pydantic's schema of the dataclass; with a ``FLATTEN`` field, the file's keys gathered into it first."""
        from pydantic_core import core_schema

        inner = handler(source)
        flat = [f.name for f in dataclasses.fields(source) if f.metadata.get("flatten")]
        if not flat:
            return inner
        own = {f.name for f in dataclasses.fields(source)} - set(flat)

        def nest(d: object) -> object:
            if not isinstance(d, Mapping):
                return d
            return {**{k: v for k, v in d.items() if k in own}, flat[0]: {k: v for k, v in d.items() if k not in own}}

        return core_schema.no_info_before_validator_function(nest, inner)


@dataclass(frozen=True)
class ModelIdentity:
    """What makes a model's outputs what they are: spec, weights revision, dtype, and what a backend adds
    (``details``: a served model's scoring method, tokenizer and sampling fields...). Part of every cache key;
    written into every trace and record as one flat object, ``{"spec", "revision", "dtype", **details}``."""

    spec: str
    revision: str = ""
    dtype: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> JsonObject:
        return {"spec": self.spec, "revision": self.revision, "dtype": self.dtype, **self.details}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> ModelIdentity:
        rest = {k: v for k, v in d.items() if k not in ("spec", "revision", "dtype")}
        return ModelIdentity(str(d.get("spec", "?")), str(d.get("revision", "")), str(d.get("dtype", "")), rest)


@dataclass(frozen=True)
class FreeForm:
    """A free-form answer and how a model's answer text is scored against it (``cotlens.tasks.freeform``)."""

    target: str
    extract: str = "number"
    """"number", "text" or "regex" (with ``pattern``)."""
    pattern: str = ""
    equivalence: str = "numeric"
    """"numeric" (within ``tolerance``, relative) or "exact" (normalised text)."""
    tolerance: float = 1e-6

    def to_dict(self) -> JsonObject:
        return dataclasses.asdict(self)


FREE_ANSWER = -1
"""``Sample.answer`` and ``Trace.answer`` of a free-form sample: no choice index (``Sample.free`` holds the target,
``Trace.answer_text`` what was extracted)."""


@dataclass(frozen=True)
class Sample:
    """One question with a known answer: a choice, or free-form (``free``)."""

    id: str
    """Unique within its task."""
    question: str
    """The question text, without the choices."""
    choices: tuple[str, ...]
    """Answer options, shown as (A), (B), ... in this order; empty for a free-form sample."""
    answer: int
    """Index into ``choices`` of the gold answer (``FREE_ANSWER`` for a free-form sample)."""
    metadata: JsonObject = field(default_factory=dict)
    """Task-specific data (difficulty, intermediate values, hints); JSON-serialisable."""
    free: FreeForm | None = None
    """The free-form answer and its scoring rule, for a sample without choices."""

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(LETTERS[: len(self.choices)])

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer]

    def to_dict(self) -> JsonObject:
        d: JsonObject = {
            "id": self.id,
            "question": self.question,
            "choices": list(self.choices),
            "answer": self.answer,
            "metadata": self.metadata,
        }
        if self.free is not None:
            d["free"] = self.free.to_dict()
        return d

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Sample:
        free = d.get("free")
        return Sample(d["id"], d["question"], tuple(d["choices"]), int(d["answer"]), dict(d.get("metadata", {})),
                      FreeForm(**free) if free else None)


@dataclass(frozen=True)
class Message:
    role: str
    """"system", "user" or "assistant"."""
    content: str


@dataclass(frozen=True)
class Prompt:
    """A conversation to render with the model's chat template, and the start of the assistant's reply.

    ``prefill`` is appended verbatim after the rendered generation prompt: the model continues from it.
    """

    messages: tuple[Message, ...]
    prefill: str = ""

    def to_dict(self) -> JsonObject:
        return {"messages": [[m.role, m.content] for m in self.messages], "prefill": self.prefill}


@dataclass(frozen=True)
class GenerationSettings:
    """How text is sampled. Part of every cache key and every record."""

    max_new_tokens: int = 256
    """Upper bound on generated tokens."""
    temperature: float = 0.0
    """0 means greedy decoding (deterministic); otherwise sampling at this temperature."""
    top_p: float = 1.0
    """Nucleus sampling mass; ignored when greedy."""
    first_line: bool = False
    """Only the first line with text is read (a mistake model's rewrite): a backend may stop a continuation once
    that line is complete, which leaves the line as it would be (decoding is causal). Part of the cache key only
    when set."""

    def to_dict(self) -> JsonObject:
        d = dataclasses.asdict(self)
        if not self.first_line:
            del d["first_line"]
        return d


@dataclass(frozen=True)
class Step:
    """One step (sentence) of a CoT, with its character span in ``Trace.cot``."""

    text: str
    start: int
    end: int


REASONING_KINDS = ("raw", "summary", "redacted")
"""What a trace's CoT is (``Trace.reasoning``)."""


@dataclass(frozen=True)
class Trace:
    """A sample's elicited chain of thought and the answer the model gives after it."""

    sample_id: str
    prompt: Prompt
    """The prompt that elicited the CoT (its prefill is the CoT's lead-in)."""
    cot: str
    """The generated CoT text (continuation after the lead-in), stripped."""
    steps: tuple[Step, ...]
    """The CoT split into sentences; see ``cotlens.elicit.split_steps`` for the rules."""
    stated_answer: int | None
    """The choice the CoT's own text names, if any (parsed, not scored)."""
    answer: int
    """The choice with the highest next-token probability after the Lanham answer prompt, full CoT."""
    answer_logprobs: tuple[float, ...]
    """Log-probabilities of each choice letter as the next token, full CoT."""
    cot_tokens: int
    """Length of the CoT in the model's tokens."""
    model: ModelIdentity
    generation: GenerationSettings
    seed: int
    answer_text: str | None = None
    """A free-form sample's answer as extracted from ``answer_raw`` (``cotlens.tasks.freeform``; None: nothing
    extracted). Multiple choice: None, ``answer`` is the choice."""
    answer_raw: str = ""
    """A free-form sample's answer as generated after the forced-answer prompt."""
    reasoning: str = "raw"
    """What ``cot`` is (``REASONING_KINDS``): the model's own reasoning ("raw": a local model's text, a provider's
    raw reasoning field), a provider's summary of it ("summary"), or nothing readable ("redacted": the provider
    withheld it). Interventions that assume the raw CoT refuse the others (``Metric.needs_raw_cot``)."""

    def to_dict(self) -> JsonObject:
        return {
            "schema": SCHEMA_VERSION,
            "sample_id": self.sample_id,
            "prompt": self.prompt.to_dict(),
            "cot": self.cot,
            "steps": [[s.text, s.start, s.end] for s in self.steps],
            "stated_answer": self.stated_answer,
            "answer": self.answer,
            "answer_logprobs": list(self.answer_logprobs),
            "cot_tokens": self.cot_tokens,
            "model": self.model.to_dict(),
            "generation": self.generation.to_dict(),
            "seed": self.seed,
            **({} if self.reasoning == "raw" else {"reasoning": self.reasoning}),
            **({"answer_text": self.answer_text, "answer_raw": self.answer_raw} if self.answer == FREE_ANSWER
               else {}),
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Trace:
        p = d["prompt"]
        return Trace(
            sample_id=d["sample_id"],
            prompt=Prompt(tuple(Message(r, c) for r, c in p["messages"]), p["prefill"]),
            cot=d["cot"],
            steps=tuple(Step(t, s, e) for t, s, e in d["steps"]),
            stated_answer=d["stated_answer"],
            answer=d["answer"],
            answer_logprobs=tuple(d["answer_logprobs"]),
            cot_tokens=d["cot_tokens"],
            model=ModelIdentity.from_dict(d["model"]),
            generation=GenerationSettings(**d["generation"]),
            seed=d["seed"],
            reasoning=d.get("reasoning", "raw"),
            answer_text=d.get("answer_text"),
            answer_raw=d.get("answer_raw", ""),
        )


@dataclass(frozen=True)
class Record:
    """One metric's result on one trace. The unit of caching, resuming and reporting."""

    metric: str
    metric_version: int
    args: JsonObject
    """The metric's arguments, so the record can be re-run."""
    sample_id: str
    score: float | None
    """The per-sample score (None when the metric does not apply to this sample; ``details`` says why)."""
    values: dict[str, float | None]
    """Further per-sample quantities the summary aggregates (accuracy, same-answer indicators...)."""
    details: JsonObject
    """Evidence: each intervention, the answer read after it, the log-probabilities."""
    model: ModelIdentity
    generation: JsonObject
    seed: int
    model_calls: int = 0
    """Model requests this record needed that were not in the cache."""
    cached_calls: int = 0
    """Model requests this record found in the cache."""

    def to_dict(self) -> JsonObject:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["model"] = self.model.to_dict()
        d["schema"] = SCHEMA_VERSION
        return d

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Record:
        d = dict(d)
        d.pop("schema", None)
        if "model" in d:
            d["model"] = ModelIdentity.from_dict(d["model"])
        return Record(**d)


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap confidence interval."""

    value: float | None
    ci: tuple[float, float] | None
    n: int

    def to_dict(self) -> JsonObject:
        return {"value": self.value, "ci": list(self.ci) if self.ci is not None else None, "n": self.n}

    @staticmethod
    def from_dict(d: Mapping[str, Any] | None) -> Estimate:
        d = d or {}
        ci = d.get("ci")
        return Estimate(d.get("value"), (float(ci[0]), float(ci[1])) if ci else None, int(d.get("n") or 0))


@dataclass(frozen=True)
class MetricSummary:
    """A metric's entry in ``summary.json``: its headline with CI, every per-sample quantity's mean, and the
    sections the metric adds itself (``extra``: read only by that metric's own report section)."""

    value: float | None
    ci: tuple[float, float] | None
    n: int
    primary: str
    description: str
    version: int
    args: JsonObject
    n_records: int
    n_skipped: int
    stats: dict[str, Estimate]
    extra: JsonObject = field(default_factory=dict)

    @property
    def headline(self) -> Estimate:
        return Estimate(self.value, self.ci, self.n)

    @property
    def notes(self) -> list[str]:
        return list(self.extra.get("notes", ()))

    def to_dict(self) -> JsonObject:
        return {**self.headline.to_dict(), "primary": self.primary, "description": self.description,
                "version": self.version, "args": self.args, "n_records": self.n_records,
                "n_skipped": self.n_skipped, "stats": {k: v.to_dict() for k, v in self.stats.items()}, **self.extra}

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> MetricSummary:
        known = ("value", "ci", "n", "primary", "description", "version", "args", "n_records", "n_skipped", "stats")
        head = Estimate.from_dict(d)
        return MetricSummary(head.value, head.ci, head.n, str(d.get("primary", "")), str(d.get("description", "")),
                             int(d.get("version", 0)), dict(d.get("args") or {}), int(d.get("n_records", 0)),
                             int(d.get("n_skipped", 0)),
                             {k: Estimate.from_dict(v) for k, v in (d.get("stats") or {}).items()},
                             {k: v for k, v in d.items() if k not in known})


SAME_ANSWER = "% same answer"
"""A curve's y axis unless its metric names another (``Metric.curve_y_label``): the Lanham curves'."""


@dataclass(frozen=True)
class CurveSummary:
    """A curve metric's mean curve on a fixed grid, with a pointwise bootstrap band."""

    label: str
    x: list[float]
    mean: list[float]
    ci: list[list[float | None]]
    n: int
    y_label: str = SAME_ANSWER

    def to_dict(self) -> JsonObject:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> CurveSummary:
        return CurveSummary(d["label"], list(d["x"]), list(d["mean"]), [list(c) for c in d["ci"]], int(d["n"]),
                            str(d.get("y_label", SAME_ANSWER)))


@dataclass(frozen=True)
class Summary:
    """A run's results (``summary.json``): written by ``cotlens.runs.summary.summarize``, read back by
    ``Summary.from_dict`` (the one reader, used by ``cotlens report``, validation and the reports)."""

    config: JsonObject
    """The run's options and every metric's arguments, keyed as on the command line."""
    model: ModelIdentity | None
    """The model's identity (spec, revision, dtype actually used...)."""
    n_samples: int
    accuracy_with_cot: Estimate
    states_answer: Estimate
    """Share of CoTs that state an answer themselves."""
    answer_matches_stated: Estimate
    """Where the CoT states one: share whose answer read after the CoT is that answer."""
    metrics: dict[str, MetricSummary]
    curves: dict[str, CurveSummary]
    model_calls: int
    cached_calls: int
    task_notes: list[str] = field(default_factory=list)
    """How the task file was read where a rule settled an ambiguity."""
    backend: JsonObject | None = None
    """A served model's request statistics for this invocation."""
    usage: JsonObject | None = None
    """What the run asked of the backend, over every attempt (``calls.jsonl``): per kind of work (``elicit``,
    each metric) and in total, calls and prompt and completion tokens (``cotlens.runs.cost``)."""
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> JsonObject:
        d: JsonObject = {
            "schema": self.schema, "config": self.config,
            "model": None if self.model is None else self.model.to_dict(), "n_samples": self.n_samples,
            "accuracy_with_cot": self.accuracy_with_cot.to_dict(), "states_answer": self.states_answer.to_dict(),
            "answer_matches_stated": self.answer_matches_stated.to_dict(),
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "curves": {k: v.to_dict() for k, v in self.curves.items()},
            "model_calls": self.model_calls, "cached_calls": self.cached_calls,
        }
        if self.task_notes:
            d["task_notes"] = self.task_notes
        if self.backend:
            d["backend"] = self.backend
        if self.usage:
            d["usage"] = self.usage
        return d

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Summary:
        return Summary(
            config=dict(d.get("config") or {}),
            model=None if d.get("model") is None else ModelIdentity.from_dict(d["model"]),
            n_samples=int(d.get("n_samples", 0)),
            accuracy_with_cot=Estimate.from_dict(d.get("accuracy_with_cot")),
            states_answer=Estimate.from_dict(d.get("states_answer")),
            answer_matches_stated=Estimate.from_dict(d.get("answer_matches_stated")),
            metrics={k: MetricSummary.from_dict(v) for k, v in (d.get("metrics") or {}).items()},
            curves={k: CurveSummary.from_dict(v) for k, v in (d.get("curves") or {}).items()},
            model_calls=int(d.get("model_calls", 0)), cached_calls=int(d.get("cached_calls", 0)),
            task_notes=list(d.get("task_notes") or []), backend=d.get("backend"), usage=d.get("usage"),
            schema=int(d.get("schema", 0)),
        )


@dataclass(frozen=True)
class ToolCall:
    """A tool call an agent made: the function, its arguments as JSON text, and the call's id (which a tool
    result names)."""

    function: str
    arguments: str = ""
    id: str = ""


TURN_ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Turn:
    """One message of an agent's trajectory (Inspect's message model, flattened to text): who wrote it, its text,
    the reasoning it came with (assistant), the tool calls it made (assistant), or the tool result it carries
    (``tool``: ``function`` and ``tool_call_id`` name the call)."""

    role: str
    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    function: str = ""
    tool_call_id: str = ""

    def to_dict(self) -> JsonObject:
        """Only the fields that are set: a trajectory file stays readable."""
        d: JsonObject = {"role": self.role, "text": self.text}
        if self.reasoning:
            d["reasoning"] = self.reasoning
        if self.tool_calls:
            d["tool_calls"] = [{"function": c.function, "arguments": c.arguments, **({"id": c.id} if c.id else {})}
                               for c in self.tool_calls]
        if self.function:
            d["function"] = self.function
        if self.tool_call_id:
            d["tool_call_id"] = self.tool_call_id
        return d


@dataclass(frozen=True)
class Episode:
    """One episode for a monitor: what the model was asked, the CoT it wrote, the action it took, and whether
    that action was the misbehaviour (ground truth, from outcomes: a switch to a hint's target, a hack the grader
    can tell), where known. ``cotlens.monitors.episodes`` reads and writes them as JSONL."""

    id: str
    """Unique within its file."""
    cot: str
    action: str
    """The answer, tool call or text the model produced after its CoT."""
    misbehaved: bool | None
    """None: unlabelled (a model's new transcripts, gated on the share a monitor flags: ``--fail-above``); a
    monitor is scored (AUROC, rates) on the labelled episodes only."""
    group: str = ""
    """The problem the episode belongs to (its question): arms of one problem share it, and folds keep a group
    together. "" means the episode's own id."""
    arm: str = "control"
    """The intervention arm: ``control`` (none), or the intervention's name (``hint:sycophancy``)."""
    prompt: str = ""
    """What the model was shown, as text (a conversation as ``role: text`` lines)."""
    behavior: str = ""
    """What ``misbehaved`` means here ("followed the hint", "took the grader's shortcut")."""
    cues: tuple[str, ...] = ()
    """Regular expressions that name the misbehaviour's cause when an output mentions it (a hint type's cues, an
    inserted word); the ``rule`` monitor reads them."""
    metadata: JsonObject = field(default_factory=dict)
    messages: tuple[Turn, ...] = ()
    """The trajectory turn by turn, where the episode has one (an agent's transcript); ``cot`` and ``action`` are
    then its reasoning and its last assistant message, flattened, for the monitors that read those."""

    @property
    def problem(self) -> str:
        return self.group or self.id

    def to_dict(self) -> JsonObject:
        d = dataclasses.asdict(self)
        d["cues"] = list(self.cues)
        if self.messages:
            d["messages"] = [t.to_dict() for t in self.messages]
        else:
            del d["messages"]  # a flat episode's file stays as it was
        return d
