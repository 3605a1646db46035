"""``cotlens experiment encoding``: process supervision (a penalty on the CoT's legible values) with and without a
paraphraser, from an organism that knows a second rendering (``run``; its report ``report``)."""

from cotlens.experiments.encoding.run import EncodingConfig, encoding, format_encoding
from cotlens.experiments.spec import Experiment

EXPERIMENT = Experiment(
    "encoding", "process supervision on the CoT's legible values, with and without a paraphraser: does RL learn a "
    "load-bearing encoding?", EncodingConfig, encoding, format_encoding, ("encoding.json", "report.html"))
