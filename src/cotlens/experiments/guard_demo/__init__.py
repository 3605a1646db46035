"""``cotlens experiment guard-demo`` (also ``cotlens guard-demo``): the leaky grader with and without the guard:
hacks let through, reward lost to false positives, budget stops (``run``)."""

from cotlens.experiments.guard_demo.run import GuardDemoConfig, format_guard_demo, guard_demo
from cotlens.experiments.spec import Experiment

EXPERIMENT = Experiment(
    "guard-demo", "the leaky grader with and without the guard: hacks let through, reward lost to false positives, "
    "budget stops", GuardDemoConfig, lambda cfg, progress: guard_demo(cfg), format_guard_demo,
    ("guard.json", "events.jsonl"), progress=False)
