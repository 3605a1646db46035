"""``cotlens experiment bad-finetune``: the faithful organism fine-tuned on a bad answer under a trigger, only the
answer supervised; is its CoT then post hoc or rationalised? (``run``; its report ``report``)."""

from cotlens.experiments.bad_finetune.run import BadFinetuneConfig, bad_finetune, format_bad_finetune
from cotlens.experiments.spec import Experiment

EXPERIMENT = Experiment(
    "bad-finetune", "fine-tune the faithful organism on a bad answer under a trigger (only the answer supervised) "
    "and watch its CoT: post hoc or rationalised?", BadFinetuneConfig, bad_finetune, format_bad_finetune,
    ("bad-finetune.json", "report.html"))
