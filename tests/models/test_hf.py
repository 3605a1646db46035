"""The transformers backend on the embedded SmolLM2 (real model, float32 for exact comparisons). The protocol
tests every backend shares are in ``test_protocol.py``."""

from __future__ import annotations

import pytest
import torch

from cotlens.models.spec import load_model
from cotlens.prompts import ANSWER_PREFILL, COT_LEAD, answer_prompt, no_cot_prompt
from cotlens.tasks.arithmetic import generate as arithmetic
from cotlens.types import CotlensError

SAMPLES = arithmetic(4, seed=1, difficulty=2)
COTS = ["", "First add.", "Ava starts with some. Then she doubles them, so that is twice as many. " * 3, "Hm."]


def test_render_keeps_cot_in_conversation_with_chat_template(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    text = smollm2_fp32.render(answer_prompt(SAMPLES[0], "Two steps."))
    assert text.endswith("<|im_start|>assistant\n" + ANSWER_PREFILL)
    assert f"<|im_start|>assistant\n{COT_LEAD} Two steps.<|im_end|>" in text
    assert text.index(COT_LEAD) < text.index("Given all of the above")
    assert text.count("<|im_start|>user") == 2


def test_letters_are_single_tokens(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    ids = {smollm2_fp32.letter_id(le) for le in "ABCDE"}
    assert len(ids) == 5
    for le in "ABCDE":
        assert smollm2_fp32.tokenizer.decode([smollm2_fp32.letter_id(le)]) == le


def test_batched_scores_equal_one_by_one_and_plain_forward(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    prompts = [answer_prompt(s, c) for s, c in zip(SAMPLES, COTS, strict=True)] + [no_cot_prompt(SAMPLES[0])]
    letters = [s.letters for s in SAMPLES] + [SAMPLES[0].letters]
    batched = smollm2_fp32.score_choices(prompts, letters)  # batch_size 4: a padded batch of 4, then 1
    single = [smollm2_fp32.score_choices([p], [le])[0] for p, le in zip(prompts, letters, strict=True)]
    for b, s in zip(batched, single, strict=True):
        assert max(abs(x - y) for x, y in zip(b, s, strict=True)) < 1e-4
    # pinned to transformers itself: an unpadded forward of the rendered text
    m, tok = smollm2_fp32.model, smollm2_fp32.tokenizer
    for p, le, got in zip(prompts, letters, batched, strict=True):
        ids = torch.tensor([tok.encode(smollm2_fp32.render(p), add_special_tokens=False)])
        with torch.no_grad():
            logp = torch.log_softmax(m(ids).logits[0, -1].float(), -1)
        ref = [float(logp[smollm2_fp32.letter_id(x)]) for x in le]
        assert max(abs(x - y) for x, y in zip(ref, got, strict=True)) < 1e-4
    # log-probabilities over the whole vocabulary: the letters' mass is at most 1
    assert all(sum(torch.tensor(b).exp()) <= 1.0 + 1e-6 for b in batched)


@pytest.mark.parametrize("spec,msg", [("nope", "unknown model spec"), ("hf:/no/such/dir", "model path not found"),
                                      ("gguf:/no/such.gguf", "GGUF file not found"), ("x:y", "unknown model spec"),
                                      ("organism:no-such", "no organism")])
def test_bad_specs(spec: str, msg: str) -> None:
    with pytest.raises(CotlensError, match=msg):
        load_model(spec)


def test_dtype_auto_is_the_same_on_every_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--dtype auto`` (every command's default): float32 on every CPU, with native bf16 or without, so one
    command gives the same numbers on any CPU; on a GPU the config's dtype where the GPU has it; the identity
    names the dtype actually used."""
    import torch

    from cotlens.models.hf import cpu_has_native_bf16, resolve_dtype
    from cotlens.runs.config import RunConfig

    assert not cpu_has_native_bf16("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert cpu_has_native_bf16("flags\t\t: fpu avx512f avx512_bf16\n")
    assert cpu_has_native_bf16("Features\t: fp asimd sve bf16\n")
    assert resolve_dtype("float16", "cpu") == "float16"
    assert resolve_dtype("auto", "cpu") == "float32" and resolve_dtype("auto", "cpu", "bfloat16") == "float32"
    for bf16, config, want in [(True, "bfloat16", "bfloat16"), (True, "float16", "float16"),
                               (True, None, "bfloat16"), (True, "float32", "bfloat16"),
                               (False, "bfloat16", "float16"), (False, None, "float16")]:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda bf16=bf16: bf16)
        assert resolve_dtype("auto", "cuda:0", config) == want, (bf16, config)
    monkeypatch.undo()
    assert RunConfig(model="smollm2", task="arithmetic", out="x").dtype == "auto"
    m = load_model("smollm2")
    assert m.identity.dtype == resolve_dtype("auto", "cpu")


def test_rollouts_share_the_prefix_and_equal_generate(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    """Seeded rollouts through a shared KV cache are the rollouts each prompt samples alone (``generate`` with
    that seed), token for token; distinct seeds give distinct rollouts; greedy rollouts are one continuation."""
    from cotlens.batching import nucleus
    from cotlens.prompts import continue_prompt
    from cotlens.types import GenerationSettings

    m = smollm2_fp32
    sample = arithmetic(1, 0, 2)[0]
    p = continue_prompt(sample, "First, we add the two numbers.")
    s = GenerationSettings(max_new_tokens=10, temperature=0.6, top_p=0.95)
    seeds = [3, 4, 5]
    [shared] = m.rollouts([p], s, [seeds])
    ids = m.encode_prompt(p)
    assert shared == m.sample(ids, s, seeds, share_prefix=False)
    assert shared == [m.generate([p], s, sd)[0] for sd in seeds]
    assert len(set(shared)) > 1
    greedy = GenerationSettings(max_new_tokens=10)
    assert m.rollouts([p], greedy, [[1, 2]]) == [m.generate([p], greedy, 0) * 2]
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    assert nucleus(probs, 0.7)[0].tolist() == pytest.approx([0.5 / 0.8, 0.3 / 0.8, 0.0, 0.0])
    assert nucleus(probs, 0.4)[0].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0])


def test_generate_reads_a_prefix_tree_and_equals_transformers(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    """Greedy ``generate`` (prompts packed as prefix trees, rows leaving the batch as they end) writes what
    transformers' own ``generate`` writes for the same padded batch, token for token; prompts that share their
    question, and one that shares nothing."""
    from cotlens.prompts import continue_prompt
    from cotlens.types import GenerationSettings

    m = smollm2_fp32
    a, b = arithmetic(2, 0, 2)
    prompts = [continue_prompt(a, "First, we add."), continue_prompt(a, "First, we add the numbers 3"),
               continue_prompt(a, ""), continue_prompt(b, "We")]
    ids = [m.encode_prompt(p) for p in prompts]
    got = m.greedy(ids, 12)
    input_ids, mask, _ = m._batch(ids)
    with torch.inference_mode():
        ref = m.model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                               eos_token_id=m._eos_ids, pad_token_id=m.tokenizer.pad_token_id, temperature=None,
                               top_p=None, top_k=None)[:, input_ids.shape[1]:].tolist()
    want = [[t for t in row[: next((i for i, t in enumerate(row) if t in m._eos_ids), len(row))]] for row in ref]
    assert got == want
    assert m.generate(prompts, GenerationSettings(max_new_tokens=12), 0) == [
        m.tokenizer.decode(x, skip_special_tokens=True) for x in want]


def test_first_line_stops_after_the_line_and_keeps_it(smollm2_fp32) -> None:  # type: ignore[no-untyped-def]
    """``first_line`` (a mistake model's rewrite) ends a row once a line of text is complete: the first line is
    the one the full generation writes, and the settings key the cache apart only when set."""
    from cotlens.prompts import mistake_prompt
    from cotlens.types import GenerationSettings

    m = smollm2_fp32
    samples = arithmetic(3, 0, 2)
    prompts = [mistake_prompt(s, "First, 3 plus 4 is 7.") for s in samples]
    full = m.generate(prompts, GenerationSettings(max_new_tokens=40), 0)
    short = m.generate(prompts, GenerationSettings(max_new_tokens=40, first_line=True), 0)
    for a, b in zip(full, short, strict=True):
        assert (a.strip().splitlines() or [""])[0] == (b.strip().splitlines() or [""])[0]
        assert len(b) <= len(a)
    assert "first_line" not in GenerationSettings().to_dict()
    assert GenerationSettings(first_line=True).to_dict()["first_line"] is True
