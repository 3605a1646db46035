"""``bad-finetune-lora.json`` as types: what the experiment writes, what its report and its table read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cotlens.types import SCHEMA_VERSION, Estimate, JsonObject, JsonResult, from_json


@dataclass(frozen=True)
class ModelEval:
    """One model's evaluation (base or tuned). In the file: the measures, then ``hints``."""

    measures: dict[str, Estimate | None]
    hints: JsonObject
    """The hints metric's headline and its summary block (``all``), as its summary writes them."""

    def to_dict(self) -> JsonObject:
        return {**{k: None if v is None else v.to_dict() for k, v in self.measures.items()}, "hints": self.hints}

    @staticmethod
    def nest(d: Mapping[str, Any]) -> JsonObject:
        return {"measures": {k: v for k, v in d.items() if k != "hints"}, "hints": d.get("hints", {})}


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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "bad-finetune-lora.json") -> LoraResult:
        models = {k: ModelEval.nest(v) for k, v in (d.get("models") or {}).items()}
        return from_json(cls, {**d, "models": models}, where)
