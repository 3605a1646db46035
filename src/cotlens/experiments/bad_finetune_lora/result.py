"""``bad-finetune-lora.json`` as types: what the experiment writes, what its report and its table read."""

from __future__ import annotations

from dataclasses import dataclass, field

from cotlens.types import FLATTEN, SCHEMA_VERSION, Estimate, JsonObject, JsonResult


@dataclass(frozen=True)
class ModelEval(JsonResult):
    """One model's evaluation (base or tuned). In the file: the measures, then ``hints``."""

    measures: dict[str, Estimate | None] = field(metadata=FLATTEN)
    hints: JsonObject = field(default_factory=dict)
    """The hints metric's headline and its summary block (``all``), as its summary writes them."""


@dataclass(frozen=True)
class LoraResult(JsonResult):
    """``bad-finetune-lora.json``: written by ``bad_finetune_lora``, drawn by its report and table. Schema 2 added
    ``schema``; nothing else changed."""

    config: JsonObject
    training: JsonObject
    """The LoRA fine-tune's options and log (``train.json``)."""
    models: dict[str, ModelEval]
    paired_bad_rate_change: Estimate
    """Tuned minus base bad-answer rate under the trigger, paired by problem."""
    schema: int = SCHEMA_VERSION
