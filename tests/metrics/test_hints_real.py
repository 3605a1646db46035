"""``cotlens run --metrics hints`` on the embedded SmolLM2 end to end (short CoTs): per-type numbers with CIs in
summary.json, the bars in the report, the labelling template, an LLM judge beside the rule judge, and a resume
that makes no model call."""

from __future__ import annotations

import json
from pathlib import Path

from cotlens.cli import main


def test_hints_on_smollm2(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["run", "--model", "smollm2", "--task", "arithmetic", "--n", "2", "--dtype", "float32",
            "--max-new-tokens", "12", "--metrics", "hints", "--hints", "sycophancy,metadata",
            "--judges", "rule,self", "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "--quiet"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    h = summary["metrics"]["hints"]
    assert set(h["by_hint"]) == {"sycophancy", "metadata"} and h["judge"] == "rule"
    for e in h["by_hint"].values():
        for k in ("switch_rate", "verbalization_rate", "normalized_score"):
            assert set(e[k]) == {"value", "ci", "n"}
        assert e["switch_rate"]["value"] is not None and e["n_pairs"] == 2
        assert set(e["judges"]) == {"rule", "self"}
    assert "rule~self" in h["agreement"] and h["agreement"]["rule~self"]["n"] == 4
    html = (out / "report.html").read_text()
    assert "Hints (judge" in html and html.count("<img") >= 1
    rows = [json.loads(x) for x in (out / "hint_labels_template.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["hint"] for r in rows} == {"sycophancy", "metadata"}
    # resume: nothing left to compute, no model call; human labels re-summarise the finished run
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({**r, "verbalized": False}) + "\n" for r in rows))
    calls = (out / "calls.jsonl").read_text()
    assert main([*argv, "--human-labels", str(labels)]) == 0
    assert (out / "calls.jsonl").read_text() == calls
    again = json.loads((out / "summary.json").read_text())["metrics"]["hints"]
    assert again["human_labels"]["n_matched"] == 4 and "rule~human" in again["agreement"]
    assert set(again["human_labels"]["calibration"]) == {"rule", "self"}
    assert "Judges against human labels" in (out / "report.html").read_text()
    # the finished run's hinted and unhinted CoTs as episodes for monitors: the rule, and SmolLM2 itself
    mon = tmp_path / "monitor"
    assert main(["monitor", "--episodes", str(out), "--monitors", "rule,self", "--out", str(mon), "--dtype",
                 "float32", "--cache", str(tmp_path / "c.sqlite"), "--quiet"]) == 0
    m = json.loads((mon / "monitor.json").read_text())  # 2 control episodes: both types share the unhinted prompt
    assert m["episodes"] == 6 and set(m["arms"]) == {"control", "hint:sycophancy", "hint:metadata"}
    for name in ("rule", "self"):
        for scope in ("cot", "action", "all"):
            r = m["results"][name][scope]
            assert set(r["auroc"]) == {"value", "ci", "n"} and set(r["at_fpr"]) == {"0.01", "0.05"}
            assert set(r["at_decision"]["g_mean2"]) == {"value", "ci", "n"}

