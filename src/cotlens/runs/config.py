"""A run's configuration: the options of ``cotlens run`` and each metric's arguments."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from cotlens.metrics import DEFAULT_METRICS, METRICS, Metric
from cotlens.metrics.base import A
from cotlens.options import as_dict, auto_int, in_identity
from cotlens.types import GenerationSettings, JsonObject

AUTO_BATCH_SIZE = 64
"""``--batch-size 0`` (auto): ``bench/decode_steps.py`` measures SmolLM2's decoding step on a 2-core CPU at 1-96 rows
(54 ms at 1 row, 131 at 16, 301 at 64, 393 at 96: 8.2, 4.7 and 4.1 ms a row at 16, 64 and 96): most of the gain
is had by 64, and a batch's KV cache grows with its rows."""
AUTO_CONCURRENCY = 256
"""``--concurrency 0`` (auto): every record of the run at once, up to this many threads."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's results. Each field is an option of ``cotlens run``, documented by
    its docstring (``cotlens.options``); each metric's own options are its arguments dataclass, in ``args``."""

    model: str
    """model spec: smollm2, hf:PATH, gguf:PATH, organism:NAME, openai:MODEL@URL or inspect:PROVIDER/MODEL"""
    task: str
    """built-in task name (arithmetic), a .jsonl/.csv file or datasets dir, or bigbench:PATH/task.json"""
    out: str = field(metadata={"identity": False})
    """run directory (created; an existing one is resumed)"""
    metrics: tuple[str, ...] = DEFAULT_METRICS
    """comma-separated metrics, or all (default: the four Lanham et al. metrics; hints and counterfactual_edits
    elicit several CoTs per sample and run when named)"""
    n: int = 20
    """number of samples (the first N of the task)"""
    seed: int = 0
    """seed for task generation, sampling and bootstrap"""
    difficulty: int = 3
    """arithmetic task: number of operations (1-8)"""
    split: str | None = None
    """datasets dir: which split (default test)"""
    max_new_tokens: int = 256
    """CoT generation budget in tokens"""
    temperature: float = 0.0
    """sampling temperature for CoTs (0 = greedy)"""
    dtype: str = "auto"
    """auto, bfloat16, float32 or float16 (auto: float32 on every CPU, so one command gives the same numbers on
    any CPU; on a GPU the model config's dtype; the records' model identity says which was used)"""
    batch_size: int = field(default=0, metadata={"identity": False, "parse": auto_int})
    """rows a decoding batch holds (auto or 0: 64; SmolLM2's decoding step on a 2-core CPU costs 8.2 ms a row at 16
    rows, 4.7 at 64, 4.1 at 96: bench/decode_steps.py); fewer where long prompts would pass 32,768 tokens"""
    concurrency: int = field(default=0, metadata={"identity": False, "parse": auto_int})
    """local models: records computed at once, their model calls gathered into shared batches (auto or 0: every
    record of the run, at most 256; 1: one record at a time; served models keep --api-concurrency requests in
    flight instead)"""
    device_map: str = field(default="", metadata={"identity": False})
    """transformers models: spread the model over devices with accelerate (auto, balanced, sequential, or a JSON
    object or .json file of module -> device: cpu, a GPU index, disk); docs/guides/scale-out.md"""
    max_memory: str = field(default="", metadata={"identity": False})
    """with --device-map: memory per device, as 0=20GiB,1=20GiB,cpu=64GiB"""
    max_tokens_total: int = field(default=0, metadata={"identity": False})
    """stop before the run's backend calls (every attempt's, counted in calls.jsonl) could pass this many prompt +
    completion tokens; the run keeps its finished work and resumes where it stopped (0: no limit)"""
    api_concurrency: int = field(default=16, metadata={"identity": False})
    """openai: requests in flight at most"""
    api_timeout: float = field(default=120.0, metadata={"identity": False})
    """openai: seconds per request before a retry"""
    api_retries: int = field(default=8, metadata={"identity": False})
    """openai: retries after a 429, 5xx, timeout or cut connection (exponential backoff with jitter)"""
    api_tokens_per_minute: float = field(default=0.0, metadata={"identity": False})
    """openai: token-rate limit (0: none)"""
    api_template: str = ""
    """openai: render prompts with this model's chat template (smollm2, hf:PATH) and send them to /completions,
    for servers that cannot continue a prefilled reply (llama.cpp)"""
    api_server: str = "auto"
    """openai: whose sampling fields to send at their neutral values (auto: recognised from /v1/models; vllm,
    sglang, llama.cpp, llama-cpp-python, cotlens; openai: OpenAI's fields only)"""
    cache: str | None = field(default=None, metadata={"identity": False})
    """call cache file (default $COTLENS_CACHE_DIR/calls.sqlite; 'none' disables)"""
    args: Mapping[str, Any] = field(default_factory=dict, metadata={"cli": False})
    """Each metric's arguments by metric name (its ``Metric.args_type``); a metric not named here takes its
    defaults."""

    def resolved_batch_size(self) -> int:
        """``batch_size``, with 0 (auto) as ``AUTO_BATCH_SIZE``."""
        return self.batch_size if self.batch_size > 0 else AUTO_BATCH_SIZE

    def resolved_concurrency(self, records: int) -> int:
        """``concurrency`` for ``records`` records to compute, with 0 (auto) as all of them (at most
        ``AUTO_CONCURRENCY``)."""
        return self.concurrency if self.concurrency > 0 else max(1, min(records, AUTO_CONCURRENCY))

    def generation(self) -> GenerationSettings:
        return GenerationSettings(max_new_tokens=self.max_new_tokens, temperature=self.temperature)

    def args_for(self, metric: Metric[A]) -> A:
        args = self.args.get(metric.name)
        return metric.default_args() if args is None else cast(A, args)

    def flat(self, keep: Callable[[dataclasses.Field[Any]], bool] = lambda f: True) -> JsonObject:
        """The run's options and every registered metric's arguments in one dict, keyed as on the command line
        (each metric's defaults where the run does not set them): ``summary.json``'s ``config``."""
        out = as_dict(self, lambda f: f.name != "args" and keep(f))
        for metric in METRICS.values():
            out.update(as_dict(self.args_for(metric), keep))
        return out

    def identity(self) -> JsonObject:
        """What a resumed run must share with the original: not where it is written or cached, nor how fast it
        calls the model, nor files read only to summarise (fields marked ``identity: False``)."""
        return self.flat(in_identity)
