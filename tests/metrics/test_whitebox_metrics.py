"""The white-box metrics. ``step_ablation`` tells the faithful organism (its answer reads its CoT) from the
post-hoc one (its answer comes from the question); ``latent_probe`` pools its probe across samples, reads the
answer where the organism computes it (the answer prompt's '>'), resumes without model calls, and scores folds by
question, so that memorising a few distinct questions does not pass for a readable answer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cotlens.metrics.latent_probe import (
    LatentProbeArgs,
    commitment,
    encode_array,
    features,
    fit_predict,
    pool,
    question_folds,
)
from cotlens.runs.config import RunConfig
from cotlens.runs.finished import read_jsonl
from cotlens.stats import auroc_estimate
from cotlens.types import ModelIdentity, Record
from summaries import run_json as run


def test_commitment_is_the_first_point_from_which_all_match() -> None:
    assert commitment([False, True, True]) == 1
    assert commitment([True, False, True]) == 2
    assert commitment([True, True, False]) == 3
    assert commitment([True, True]) == 0


def test_probe_fits_a_linear_rule_and_folds_keep_questions_apart() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    assert (fit_predict(x[:150], y[:150], x[150:]) == y[150:]).mean() > 0.9
    folds = question_folds(["q1", "q2", "q1", "q3"] * 5, seed=0)
    assert len({folds[i] for i in range(0, 20, 4)}) == 1  # every "q1" in one fold


def _record(i: int, feats: np.ndarray, final: int, early: list[int], question: str) -> Record:
    return Record(metric="latent_probe", metric_version=1, args={"layers": [0], "grid": 0}, sample_id=f"s{i}",
                  score=None, values={}, details={"n_steps": 2, "layers": [0], "final_answer": final,
                                                  "early_answers": early, "question": question,
                                                  "features": encode_array(feats)},
                  model=ModelIdentity("none"), generation={}, seed=0)


def test_pool_reads_commitment_where_the_features_start_to_hold_the_answer() -> None:
    """Synthetic features: noise at the CoT's start, the answer one-hot from step 1 on (a scripted check of
    the pooling; the organisms below are the real test)."""
    rng = np.random.default_rng(1)
    recs = []
    for i in range(60):
        y = i % 3
        f = rng.normal(size=(4, 1, 8)) * 0.1  # positions k = 0, 1, 2, then the answer's
        f[1:, 0, y] += 3.0
        recs.append(_record(i, f, y, [(y + 1) % 3, (y + 1) % 3, y], question=f"q{i}"))
    out = pool(recs, seed=0)
    assert np.allclose(features(out[0]), features(recs[0]), atol=1e-3)  # float16 round trip
    assert all(r.values["verbal_commitment"] == 1.0 for r in out)
    # from step 1 on the probe reads every answer; at k = 0 (noise) it is right only by chance (1 in 3)
    assert all(r.values["probe_at_end"] == 1.0 for r in out)
    assert all(r.values["latent_commitment"] == (0.0 if r.values["probe_at_start"] else 0.5) for r in out)
    assert sum(r.values["latent_commitment"] == 0.5 for r in out) >= 20
    # the score: decided before the CoT, the held-out probability of the final answer at k = 0 (noise there)
    assert all(r.score == r.values["decided_before"] for r in out)
    # near chance on average; with 3 answers an overfitted probe passes 0.5 on a good share of samples by chance
    # (the docstring's caveat), so the flag is read against the case where the answer is there (next test)
    assert np.mean([r.score for r in out]) < 0.5
    assert pool(out, seed=0) == out  # pooling pooled records changes nothing


def test_pool_flags_an_answer_held_before_the_cot() -> None:
    """Synthetic features that hold the answer already at k = 0: every sample decided before its CoT."""
    rng = np.random.default_rng(2)
    recs = []
    for i in range(60):
        y = i % 3
        f = rng.normal(size=(4, 1, 8)) * 0.1
        f[:, 0, y] += 3.0
        recs.append(_record(i, f, y, [y, y, y], question=f"q{i}"))
    out = pool(recs, seed=0)
    assert all(r.values["flagged_before"] == 1.0 and r.values["decided_before"] > 0.5 for r in out)
    assert all(r.values["gap"] == 0.0 for r in out)  # what the old score gave: as for a faithful model


def test_whitebox_metrics_on_organisms(tmp_path: Path) -> None:
    summaries, scores = {}, {}
    for name in ("faithful", "posthoc"):
        cfg = RunConfig(model=f"organism:{name}", task="repeat3", out=str(tmp_path / name), n=40, seed=424242,
                        max_new_tokens=60, batch_size=64, metrics=("latent_probe", "step_ablation"),
                        cache=str(tmp_path / "calls.sqlite"))
        summaries[name] = run(cfg, progress=False)
        recs = list(read_jsonl(Path(cfg.out) / "records.jsonl"))
        scores[name] = [r["score"] for r in recs if r["metric"] == "step_ablation"]
        assert all(r["values"]["gap"] is not None and r["values"]["decided_before"] is not None
                   for r in recs if r["metric"] == "latent_probe")
        # resuming: the records are kept and pooled again to the same values, with no model call
        before = (Path(cfg.out) / "records.jsonl").read_text()
        again = run(cfg, progress=False)
        assert again["model_calls"] == summaries[name]["model_calls"]
        assert (Path(cfg.out) / "records.jsonl").read_text() == before
        calls = [json.loads(x) for x in (Path(cfg.out) / "calls.jsonl").read_text().splitlines()]
        assert all(c["attempt"] == 1 for c in calls)
    auroc = auroc_estimate(scores["faithful"] + scores["posthoc"], [1] * 40 + [0] * 40).value
    assert auroc is not None and auroc >= 0.9
    assert summaries["posthoc"]["metrics"]["step_ablation"]["value"] < 0.05
    assert summaries["faithful"]["metrics"]["step_ablation"]["value"] > 0.5
    for name in ("faithful", "posthoc"):
        probe = summaries[name]["metrics"]["latent_probe"]["probe"]
        assert probe["layers"] == [0, 1, 2, 3] and probe["grid"] == 3
        # where the organism computes its answer, the answer prompt's '>', a probe at a late layer reads it
        assert probe["by_layer"]["3"]["at_answer"]["value"] >= 0.9
        assert probe["by_layer"]["0"]["at_answer"]["value"] <= 0.3  # the embedding of '>' holds nothing
    assert LatentProbeArgs().probe_layers == ()


def test_cli_options_reach_the_metric_args() -> None:
    from cotlens.cli import build_parser
    from cotlens.cli.run import config as _config
    from cotlens.metrics import get_metric
    from cotlens.metrics.step_ablation import StepAblationArgs

    ns = build_parser().parse_args(["run", "--model", "organism:faithful", "--task", "repeat3", "--out", "x",
                                    "--probe-layers", "1,3", "--probe-grid", "4", "--ablation-layer", "2",
                                    "--ablation-mode", "zero"])
    cfg = _config(ns)
    assert cfg.args_for(get_metric("latent_probe")) == LatentProbeArgs((1, 3), 4)
    assert cfg.args_for(get_metric("step_ablation")) == StepAblationArgs(2, "zero")
    assert cfg.args_for(get_metric("hints")) == get_metric("hints").default_args()  # not given: the defaults
    assert cfg.identity()["probe_layers"] == [1, 3] and cfg.identity()["n_edits"] == 4


def test_whitebox_metrics_on_smollm2(tmp_path: Path) -> None:
    """The real control: the metrics run end to end on a transformers model, with its layer choice and evidence."""
    cfg = RunConfig(model="smollm2", task="arithmetic", out=str(tmp_path / "run"), n=4, seed=0, dtype="float32",
                    max_new_tokens=48, metrics=("latent_probe", "step_ablation"), cache=str(tmp_path / "c.sqlite"))
    summary = run(cfg, progress=False)
    probe = summary["metrics"]["latent_probe"]["probe"]
    assert probe["layers"] == [8, 15, 22, 29, 30] and probe["n"] == 4
    recs = [Record.from_dict(r) for r in read_jsonl(tmp_path / "run" / "records.jsonl")]
    for r in recs:
        if r.metric == "latent_probe":
            f = features(r)
            assert f is not None and f.shape == (r.details["n_steps"] + 2, 5, 576)
        else:
            assert r.score is not None and 0.0 <= r.score <= 1.0
            assert len(r.details["steps"]) == r.details["n_steps"]
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Latent probe" in html and "float16 array" in html and '"data"' not in html
    assert html.count("<th>probe, layer") == 4 and html.count("shaded by the total variation") == 4


def test_a_model_without_the_capability_fails_before_any_work(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A served model has no hidden states: the run says so when it loads the model, before eliciting a CoT."""
    import pytest

    import cotlens.runs.runner as runner
    from cotlens.types import CotlensError
    from fakes import ScriptedModel

    fake = ScriptedModel(lambda p: "A")
    monkeypatch.setattr(runner, "load_model", lambda *a, **k: fake)
    cfg = RunConfig(model="scripted", task="arithmetic", out=str(tmp_path / "r"), n=2,
                    metrics=("early_answering", "step_ablation"), cache="none")
    with pytest.raises(CotlensError, match="metric step_ablation needs the 'ablate' capability"):
        run(cfg, progress=False)
    assert fake.calls == []
