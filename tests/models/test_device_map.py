"""A model spread over devices (accelerate's device map): SmolLM2's layers split between the CPU and disk
offload, which loads each offloaded layer's weights as it runs, through the hooks a multi-GPU map uses. Hidden
states, choice scores, ablated scores and greedy text equal the single-device model's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cotlens.models.hf import HFModel, parse_placement
from cotlens.models.spec import load_model
from cotlens.prompts import answer_prompt
from cotlens.tasks import load_task
from cotlens.types import CotlensError, GenerationSettings


def test_split_model_equals_single_device(smollm2_fp32: HFModel, tmp_path: Path) -> None:
    n = smollm2_fp32.n_layers
    dmap = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.norm": "cpu", "lm_head": "cpu",
            **{f"model.layers.{i}": "cpu" if i < n // 2 else "disk" for i in range(n)}}
    placement = parse_placement(json.dumps(dmap))
    assert placement is not None
    placement = type(placement)(placement.device_map, None, str(tmp_path / "offload"))
    split = load_model("smollm2", dtype="float32", batch_size=4, placement=placement)
    assert isinstance(split, HFModel)
    assert set(split.placement.values()) == {"cpu", "disk"}  # type: ignore[union-attr]
    smollm2_fp32.clear_prefix_store()  # the shared model may hold other tests' reads: both read alike
    samples = load_task("arithmetic", 2, 0)
    cot = "First, 3 plus 4 is 7. Then 7 times 2 is 14."
    prompts = [answer_prompt(s, cot) for s in samples]
    letters = [s.letters for s in samples]
    for a, b in zip(split.hidden_states(prompts), smollm2_fp32.hidden_states(prompts), strict=True):
        assert np.array_equal(a, b)
    assert split.score_choices(prompts, letters) == smollm2_fp32.score_choices(prompts, letters)
    spans = [(0, cot.index(".") + 1)] * 2
    for layer in (1, n - 1):  # an ablation hook on a layer in memory, and on one loaded from disk
        assert (split.score_ablated(prompts, letters, [cot] * 2, spans, layer, "mean")
                == smollm2_fp32.score_ablated(prompts, letters, [cot] * 2, spans, layer, "mean"))
    settings = GenerationSettings(max_new_tokens=8)
    assert split.generate(prompts, settings, 0) == smollm2_fp32.generate(prompts, settings, 0)


@pytest.mark.parametrize("dmap,memory,msg", [
    ("everywhere", "", "give auto, balanced"), ("{not json", "", "not a JSON object"), ("[1, 2]", "", None),
    ("auto", "0:20GiB", "DEVICE=SIZE"), ("/no/such/map.json", "", "not a JSON object")])
def test_bad_placements(dmap: str, memory: str, msg: str | None) -> None:
    with pytest.raises(CotlensError, match=msg or "give auto"):
        parse_placement(dmap, memory)


def test_placement_parsing() -> None:
    p = parse_placement("balanced", "0=20GiB,1=20GiB,cpu=64GiB")
    assert p is not None and p.device_map == "balanced" and p.max_memory == {0: "20GiB", 1: "20GiB", "cpu": "64GiB"}
    assert parse_placement("", "") is None
