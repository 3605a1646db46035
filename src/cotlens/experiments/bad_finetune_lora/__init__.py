"""``cotlens experiment bad-finetune-lora``: the bad fine-tune on a real model, LoRA on answers-only data with a
trigger, then the base and tuned models' CoTs read (``run``; its report ``report``)."""

from cotlens.experiments.bad_finetune_lora.run import LoraExperimentConfig, bad_finetune_lora, format_lora
from cotlens.experiments.spec import Experiment

EXPERIMENT = Experiment(
    "bad-finetune-lora", "the bad fine-tune on a real model: LoRA on answers-only data with a trigger, then the base "
    "and tuned models' CoTs read", LoraExperimentConfig, bad_finetune_lora, format_lora,
    ("bad-finetune-lora.json", "report.html"))
