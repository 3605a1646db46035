"""cotlens: is a model's chain of thought the reasoning it used, or a story told after the fact?

The public API: load a model from a spec, load a task, elicit traces, run metrics, run whole batteries, and
read a finished run as data frames (``load``).
"""

from cotlens.analysis.frames import load
from cotlens.elicit import elicit, extract_answer, split_steps
from cotlens.metrics import METRICS, get_metric
from cotlens.models.base import Model
from cotlens.models.spec import load_model
from cotlens.prompts import answer_prompt
from cotlens.runs.config import RunConfig
from cotlens.runs.runner import run
from cotlens.tasks import load_task
from cotlens.types import (
    CotlensError,
    Estimate,
    GenerationSettings,
    Prompt,
    Record,
    Sample,
    Step,
    Summary,
    Trace,
)

__version__ = "0.1.0"

__all__ = [
    "METRICS",
    "CotlensError",
    "Estimate",
    "GenerationSettings",
    "Model",
    "Prompt",
    "Record",
    "RunConfig",
    "Sample",
    "Step",
    "Summary",
    "Trace",
    "answer_prompt",
    "elicit",
    "extract_answer",
    "get_metric",
    "load",
    "load_model",
    "load_task",
    "run",
    "split_steps",
]
