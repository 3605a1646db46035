"""Options built from dataclasses: every metric's arguments are documented `cotlens run` options."""

from __future__ import annotations

import dataclasses

from cotlens.cli import build_parser
from cotlens.cli.run import config as _config
from cotlens.metrics import METRICS
from cotlens.metrics.hints import HintsArgs
from cotlens.options import field_docs, identity, options
from cotlens.runs.config import RunConfig


def test_every_option_is_documented_and_named_once() -> None:
    flags: list[str] = []
    for cls in (RunConfig, *(m.args_type for m in METRICS.values())):
        for o in options(cls):
            assert o.help, f"{cls.__name__}.{o.name} has no docstring"
            flags.append(o.flag)
    assert len(flags) == len(set(flags))
    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    for m in METRICS.values():
        if dataclasses.fields(m.args_type):
            assert f"{m.name} options:" in text
    assert "--probe-layers" in text and "Residual-stream layers to probe" in text and "``" not in text


def test_field_docs_read_the_string_under_each_field() -> None:
    docs = field_docs(HintsArgs)
    assert docs["judges"].startswith("Verbalisation judges, the first one primary")
    assert "judge_version" not in docs  # set by the code, not an option
    assert [o.name for o in options(HintsArgs)] == ["hints", "judges", "human_labels"]


def test_a_metric_gets_only_the_arguments_given() -> None:
    ns = build_parser().parse_args(["run", "--model", "m", "--task", "t", "--out", "o", "--n-edits", "7",
                                    "--hints", "sycophancy,metadata", "--human-labels", "l.jsonl"])
    cfg = _config(ns)
    assert set(cfg.args) == {"counterfactual_edits", "hints"}
    assert cfg.args["hints"] == HintsArgs(("sycophancy", "metadata"), human_labels="l.jsonl")
    # human labels are read only to summarise: not part of the run's identity nor of its records' arguments
    assert "human_labels" not in cfg.identity() and "human_labels" not in identity(cfg.args["hints"])
    assert cfg.flat()["human_labels"] == "l.jsonl" and cfg.identity()["n_edits"] == 7
