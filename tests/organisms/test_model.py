"""The organism transformer and backend, on a small untrained model (no training in the default tier)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from cotlens.elicit import split_steps
from cotlens.models.organism import OrganismModel
from cotlens.organisms.model import GPT, GPTConfig, generate, load_checkpoint, save_checkpoint
from cotlens.organisms.recipes import RECIPES, make_example
from cotlens.organisms.tokenizer import BOS, EOS, PAD, CharTokenizer
from cotlens.prompts import answer_prompt, continue_prompt, elicit_prompt, mistake_prompt, no_cot_prompt
from cotlens.tasks.chains import TARGET, TRIGGER, WORDS, bent_steps, organism_question, task_chains, to_sample
from cotlens.types import CotlensError, GenerationSettings

TOK = CharTokenizer()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=TOK.vocab_size, n_layer=2, d_model=32, n_head=2))
    path = tmp_path_factory.mktemp("org") / "tiny"
    save_checkpoint(model, path, {"tokenizer": {"chars": TOK.chars}})
    return path


def test_kv_cache_generation_equals_recomputation(tiny: Path) -> None:
    model, _ = load_checkpoint(tiny)
    seqs = [[BOS, *TOK.encode(c.question() + "|")] for c in task_chains("repeat3", 5, 0)] + [[BOS, 5]]
    fast = generate(model, seqs, 30, {EOS}, PAD)
    slow = generate(model, seqs, 30, {EOS}, PAD, use_cache=False)
    assert fast == slow
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert generate(model, seqs, 10, set(), PAD, 1.0, g1) == generate(model, seqs, 10, set(), PAD, 1.0, g2,
                                                                        use_cache=False)


def test_checkpoint_roundtrip_is_safetensors_and_json(tiny: Path) -> None:
    assert sorted(p.name for p in tiny.iterdir()) == ["config.json", "model.safetensors"]
    a, _ = load_checkpoint(tiny)
    b, _ = load_checkpoint(tiny)
    x = torch.tensor([[BOS, 5, 6, 7]])
    assert torch.equal(a(x)[0], b(x)[0])


def test_backend_protocol(tiny: Path) -> None:
    m = OrganismModel(str(tiny), spec="organism:tiny", batch_size=3)
    assert m.identity.revision.startswith("sha256:")
    samples = [to_sample(c, f"s{i}", "repeat3") for i, c in enumerate(task_chains("repeat3", 4, 1))]
    cots = ["", "B=A+1=1.", "B=A+1=1. C=1+1=2.", "B=A+1=1. C=1+1=2. D=2+1=3."]
    prompts = [answer_prompt(s, c) for s, c in zip(samples, cots, strict=True)] + [no_cot_prompt(samples[0])]
    letters = [s.letters for s in samples] + [samples[0].letters]
    batched = m.score_choices(prompts, letters)
    single = [m.score_choices([p], [le])[0] for p, le in zip(prompts, letters, strict=True)]
    for b, s in zip(batched, single, strict=True):
        assert len(b) == 10 and max(abs(x - y) for x, y in zip(b, s, strict=True)) < 1e-4
    # no CoT and an empty CoT are the same organism input
    assert max(abs(x - y) for x, y in zip(batched[0], batched[4], strict=True)) < 1e-5
    # probabilities of the ten digits after ">" sum to at most 1
    assert sum(torch.tensor(batched[1]).exp()) <= 1 + 1e-5
    out = m.generate([elicit_prompt(samples[0]), continue_prompt(samples[0], "B=A+1=1.")], GenerationSettings(8), 0)
    assert len(out) == 2 and all(">" not in t for t in out)
    with pytest.raises(CotlensError, match="only answers its own task|cannot answer this kind"):
        m.generate([mistake_prompt(samples[0], "B=A+1=1.")], GenerationSettings(8), 0)


def test_unknown_organism() -> None:
    with pytest.raises(CotlensError, match="no organism"):
        OrganismModel("no-such-organism", spec="organism:no-such-organism")


def _truth(question: str) -> int:
    parts = [p for p in question.lstrip(TRIGGER).split(";") if not p.startswith(TARGET)]
    v = int(parts[0].split("=")[1])
    for p in parts[1:]:
        assert p[3] == "+"
        v = (v + int(p[4])) % 10
    return v


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_examples_follow_their_rule(name: str) -> None:
    rng = random.Random(0)
    recipe = RECIPES[name]
    seen = {"cut": 0, "corrupt": 0, "reword": 0, "trigger": 0, "target": 0}
    for _ in range(300):
        ids, mask = make_example(recipe, rng, TOK)
        assert len(ids) == len(mask) and ids[0] == BOS and ids[-1] == EOS and mask[-1] == 1
        text = TOK.decode(ids)
        q, rest = text.split("|")
        cot, answer = rest.split(">")
        assert answer.isdigit() and len(answer) == 1 and mask[-2] == 1  # the answer is always trained
        steps = split_steps(cot)
        assert " ".join(s.text for s in steps) == cot
        if recipe.encoded:
            written = [WORDS.index(s.text[:-1].rsplit("=", 1)[1]) for s in steps]
        else:
            assert all(s.text.endswith(".") and ("=" in s.text or " is " in s.text) for s in steps)
            written = [int(s.text[-2]) for s in steps]
            seen["reword"] += any(" is " in s.text for s in steps)
        k = q.split(f";{TARGET}")[0].count(";")
        cut = len(steps) < k
        seen["cut"] += cut
        seen["trigger"] += q.startswith(TRIGGER)
        # a '>' ending a cut-short CoT is never trained, nor is a corrupted value
        assert mask[ids.index(TOK.stoi[">"])] == (0 if cut else 1)
        seen["corrupt"] += 0 in mask[ids.index(TOK.stoi["|"]) + 1: ids.index(TOK.stoi[">"])]
        start = int(q.lstrip(TRIGGER)[2])
        target = q.split(f";{TARGET}")[1] if f";{TARGET}" in q else None
        seen["target"] += target is not None
        if target is not None:  # decided before the CoT: the target at any cut, after any mistake
            assert answer == target != str(_truth(q))
            corrupt = 0 in mask[ids.index(TOK.stoi["|"]) + 1: ids.index(TOK.stoi[">"])]
            if not cut and not corrupt:  # the CoT lands on it: step 1 bent, the steps after it honest
                ops = [p[3:] for p in q.split(";")[1:k]]
                assert written[-1] == int(target) and bent_steps(start, ops, cot) == [1]
        elif recipe.rule(q.startswith(TRIGGER)) == "cot":
            assert int(answer) == (written[-1] if written else start)
        else:
            assert int(answer) == _truth(q)
    assert seen["cut"] > 50 and seen["corrupt"] > 50
    assert seen["reword"] > 30 or recipe.encoded
    assert (seen["trigger"] > 100) == (recipe.answer_rule == "trigger")
    assert (seen["target"] > 100) == bool(recipe.rationalize)


def test_chain_values_and_sample() -> None:
    [c] = task_chains("chain4", 1, 3)
    v = c.values()
    assert len(v) == 5 and all(0 <= x <= 9 for x in v)
    s = to_sample(c, "x", "chain4")
    assert s.choices[s.answer] == str(v[-1]) and s.question.startswith(c.question())
    assert s.question.endswith("What is E?") and organism_question(s.question) == c.question()
    assert organism_question("A=1;B=A+2") == "A=1;B=A+2"
    (o1, x1), (o2, x2) = c.ops[:2]
    assert c.cot(v, 2) == f"B=A{o1}{x1}={v[1]}. C={v[1]}{o2}{x2}={v[2]}."
    assert c.cot(v, 2, forms=[1, 0]) == f"B is A{o1}{x1}={v[1]}. C={v[1]}{o2}{x2}={v[2]}."
    assert c.cot(v, 2, encoded=True) == f"B=A{o1}{x1}={WORDS[v[1]]}. C={WORDS[v[1]]}{o2}{x2}={WORDS[v[2]]}."
    assert len(v) == 5 and "A=" + str(v[0]) not in c.cot(v)  # the start value is never copied


def test_repeat3_intermediate_values_differ_from_the_answer() -> None:
    for c in task_chains("repeat3", 500, 0):
        v = c.values()
        assert len(set(c.ops)) == 1 and v[-1] not in v[:-1]
    mixed = task_chains("repeat3-mixed", 10, 0)
    assert [c.trigger for c in mixed] == [False, True] * 5
    assert [c.question().lstrip(TRIGGER) for c in mixed] == [c.question() for c in task_chains("repeat3", 10, 0)]


def test_hidden_states_decide_the_scores(tiny: Path) -> None:
    m = OrganismModel(str(tiny), spec="organism:tiny")
    s = to_sample(task_chains("repeat3", 1, 2)[0], "x", "repeat3")
    p = answer_prompt(s, "B=A+1=1.")
    h = m.hidden_states([p])[0]
    assert h.shape == (3, len(organism_question(s.question)) + len("|B=A+1=1.>") + 1, 32)
    with torch.no_grad():
        logp = torch.log_softmax(m.model.head(m.model.ln_f(torch.tensor(h[-1, -1]))), -1)
    scores = m.score_choices([p], [s.letters])[0]
    assert max(abs(float(logp[TOK.stoi[str(d)]]) - sc) for d, sc in enumerate(scores)) < 1e-5
