"""``cotlens experiment pressure``: SFT vs outcome RL vs a CoT-monitor penalty vs a paraphraser, from one faithful
organism in the leaky grader (``run``; its report ``report``)."""

from cotlens.experiments.pressure.run import PressureConfig, format_pressure, pressure
from cotlens.experiments.spec import Experiment

EXPERIMENT = Experiment(
    "pressure", "SFT vs outcome RL vs a CoT-monitor penalty vs a paraphraser, from one faithful organism in the "
    "leaky grader", PressureConfig, pressure, format_pressure, ("pressure.json", "report.html"))
