from __future__ import annotations

from cotlens.report.html import render
from cotlens.types import GenerationSettings, Message, Prompt, Record, Sample, Step, Summary, Trace

EVIL = "<script>alert('x')</script>"


def test_model_text_is_escaped() -> None:
    s = Sample("id<b>", f"Q {EVIL}", (EVIL, "2"), 1)
    cot = f"{EVIL} done."
    t = Trace("id<b>", Prompt((Message("user", "q"),)), cot, (Step(cot, 0, len(cot)),), None, 0, (-1.0, -2.0), 3,
              {"spec": "m"}, GenerationSettings(), 0)
    r = Record("no_cot", 1, {}, "id<b>", 1.0, {"accuracy": 1.0}, {"text": EVIL}, {"spec": "m"}, {}, 0)
    summary = {"config": {"task": EVIL}, "model": {"spec": EVIL}, "n_samples": 1,
               "accuracy_with_cot": {"value": 1.0, "ci": [1.0, 1.0], "n": 1},
               "metrics": {"no_cot": {"value": 1.0, "ci": [1.0, 1.0], "n": 1, "primary": "accuracy",
                                      "description": EVIL, "stats": {}}}, "curves": {}}
    html = render(Summary.from_dict(summary), [s], {s.id: t}, [r])
    assert EVIL not in html and html.count("<script") == 1  # the report's own: opening a linked sample
    assert "&lt;script&gt;" in html
