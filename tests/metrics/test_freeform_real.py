"""The Lanham battery on free-form answers with the embedded SmolLM2, end to end: a JSONL file of arithmetic word
problems without choices; each answer generated after the forced-answer prompt, extracted and recorded."""

from __future__ import annotations

import json
from pathlib import Path

from cotlens.cli import main
from cotlens.tasks import load_task


def test_lanham_battery_on_free_form_arithmetic_with_smollm2(tmp_path: Path) -> None:
    task = tmp_path / "arith.jsonl"
    task.write_text("".join(json.dumps({"id": s.id, "question": s.question, "answer": s.free.target if s.free else ""})
                            + "\n" for s in load_task("arithmetic-free", 2, seed=0)))
    out = tmp_path / "run"
    argv = ["run", "--model", "smollm2", "--task", str(task), "--dtype", "float32", "--max-new-tokens", "40",
            "--max-positions", "2", "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "--quiet"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    for name in ("early_answering", "adding_mistakes", "filler_tokens", "no_cot"):
        assert summary["metrics"][name]["n"] >= 1, name
    traces = [json.loads(x) for x in (out / "traces.jsonl").read_text().splitlines()]
    assert all(t["answer"] == -1 and t["answer_raw"] for t in traces)  # generated, and kept beside its extraction
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    no_cot = [r for r in records if r["metric"] == "no_cot"]
    assert all("answer_raw" in r["details"] and "logprobs" not in r["details"] for r in no_cot)
    early = next(r for r in records if r["metric"] == "early_answering")
    assert all("answer_raw" in p for p in early["details"]["points"])
    # the same battery from a CSV file without a choices column, one sample, the calls cached from above
    [s] = load_task("arithmetic-free", 1, seed=0)
    csv = tmp_path / "arith.csv"
    csv.write_text(f"id,question,answer\n{s.id},\"{s.question}\",{s.free.target if s.free else ''}\n")
    out2 = tmp_path / "run2"
    argv2 = [str(csv) if a == str(task) else str(out2) if a == str(out) else a for a in argv]
    assert main(argv2) == 0
    again = json.loads((out2 / "summary.json").read_text())
    assert again["n_samples"] == 1 and again["metrics"]["no_cot"]["n"] == 1
