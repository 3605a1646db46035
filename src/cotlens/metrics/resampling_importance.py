"""Resampling importance (Thought Anchors: Bogdan, Macar, Nanda, Conmy 2025, arXiv 2506.19143, Section 3; the
definitions below follow their reference code, ``analyze_rollouts.py`` and ``generate_rollouts.py``).

For a CoT of n steps (sentences, ``cotlens.elicit.split_steps``), group k (k = 0..n) is N rollouts that continue
the CoT from its first k steps: the model rewrites step k+1 onwards (sampled at the paper's temperature 0.6 and
top-p 0.95 by default), and each rollout's answer is read as every cotlens answer is read (the Lanham answer
prompt after the rollout's whole CoT; the letter with the highest probability). Group k is the paper's
"chunk k removed and resampled"; group k+1 keeps it. Per step i (0-based):

- **resampling importance (accuracy)** = accuracy of group i+1 minus accuracy of group i
  (``calculate_resampling_importance_accuracy``: how much keeping the step, rather than letting the model
  write its own, moves the chance of the right answer);
- **resampling importance (KL)** = KL(answers of group i || answers of group i+1) over the answer
  distributions, each count smoothed by alpha = 1e-9 over the answers seen in either group
  (``calculate_kl_divergence`` with ``use_prob_true`` False, the script's default);
- **counterfactual importance** (accuracy and KL): the same comparison restricted to group i's rollouts whose
  first sentence (the step that replaced step i) has cosine similarity below 0.8 (``--similarity-threshold``)
  to step i; accuracy: those rollouts' accuracy minus group i+1's; KL: KL(those || group i+1 and group i's
  similar rollouts) (``use_similar_chunks`` True). Also each step's ``different_fraction`` (share of group i
  below the threshold) and ``overdeterminedness`` (1 - distinct resampled sentences / rollouts);
- **forced-answer importance**: the answer forced right after the first k steps (no rollout): the answer
  prompt after the truncated CoT, whose choice distribution at the rollouts' temperature is the exact
  distribution of the paper's sampled forced answers; forced accuracy is the probability of the right choice;
  importance = forced accuracy after i+1 steps minus after i steps, and the KL between the two distributions.

The per-sample score (``max_abs_importance``) is the largest |resampling importance (accuracy)| over the CoT's
steps: how strongly its strongest "thought anchor" moves the answer. The per-step curve is resampling
importance against the fraction of the CoT through the step. CIs: over samples (every summary value), and over
rollouts: per step and per sample a percentile bootstrap over each group's rollouts (``details.steps[].ci``,
``max_abs_importance_ci``), and for the headline a two-level bootstrap over samples and their rollouts
(``summary.json``: ``rollout_ci``).

Where this deviates from the reference code, and why:

- Sentence embeddings: all-MiniLM-L6-v2 cannot be downloaded here; the default is WordLlama (weights in its
  wheel), ``--embedder`` names another (``cotlens.similarity``), and each record names the one used.
- The last step is compared with group n (the whole CoT kept, the model continues from its end), which the
  reference code does not generate (it gives the last chunk importance 0).
- Where no rollout of group i is dissimilar, counterfactual importance is missing (None), not 0.0 as in the
  reference code: a step that the model always rewrites the same way has no counterfactual to measure.
- Forced answers use their exact choice distribution instead of sampling them; top-p is not applied to it.
- Answers are read by the answer prompt, not parsed from a ``\\boxed{}``: every rollout has an answer.

What it cannot show: a step the model would always write the same way (a deterministic computation) gets no
importance however much the answer depends on it, because its resamples are the step itself (every organism but
the ``fork`` pair, whose steps are real choices: ``cotlens validate``'s positive and negative case); and the maximum
over steps of a noisy difference is biased upwards (about sqrt(2p(1-p)/N) per step at accuracy p).

Cost: (n + 1) x N rollouts per sample (``--resample-steps`` keeps fewer), each up to ``--rollout-tokens`` new
tokens, stated before the run starts. On a local backend a group's prompt is read once and its KV cache shared by
the N rollouts (``ROLLOUTS``); a group's rollouts are one cached call, so a killed run resumes after its last
finished group.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from cotlens.cost import Need, Shape, reads, writes
from cotlens.elicit import AnswerKey, argmax, clean_cot, correct, join_steps, read_answers, split_steps, trace_key
from cotlens.figures import chip
from cotlens.metrics.adding_mistakes import join_continuation, positions
from cotlens.metrics.base import (
    Metric,
    MetricContext,
    Readout,
    Variant,
    make_record,
    points_curve,
    score_shared,
    skipped_html,
)
from cotlens.models.base import SCORE_PREFIXES, has, sample_rollouts
from cotlens.prompts import answer_prompt, continue_prompt
from cotlens.similarity import EMBEDDERS, check_embedder, cosine, load_embedder
from cotlens.types import CotlensError, GenerationSettings, Record, Sample, Trace

ALPHA = 1e-9
"""The reference code's smoothing of answer counts in its KL divergences."""
N_BOOT = 200
"""Bootstrap resamples of a sample's rollouts (per-step and per-sample CIs over rollouts)."""


@dataclass(frozen=True)
class ResamplingArgs:
    rollouts: int = 16
    """Rollouts from each cut of the CoT (Thought Anchors used 100)."""
    rollout_temperature: float = 0.6
    """Sampling temperature of the rollouts (the paper's 0.6; 0 gives one greedy continuation per cut)."""
    rollout_top_p: float = 0.95
    """Nucleus mass of the rollouts (the paper's 0.95)."""
    rollout_tokens: int = 0
    """Most new tokens a rollout may write; 0: the run's --max-new-tokens."""
    similarity_threshold: float = 0.8
    """A resampled step is "different" from the one it replaced below this cosine similarity (the paper's 0.8)."""
    embedder: str = "wordllama"
    """The sentence embedder for that similarity: wordllama (weights in its wheel) or hf:PATH (a local encoder,
    for example all-MiniLM-L6-v2, the paper's)."""
    resample_steps: int = 0
    """If > 0, resample at most this many steps per CoT, evenly spaced (each needs two groups of rollouts)."""


def check(args: ResamplingArgs) -> None:
    if args.rollouts < 1:
        raise CotlensError(f"--rollouts must be at least 1, got {args.rollouts}")
    if args.rollout_temperature < 0:
        raise CotlensError(f"--rollout-temperature must be >= 0, got {args.rollout_temperature}")
    if not 0 < args.rollout_top_p <= 1:
        raise CotlensError(f"--rollout-top-p must be in (0, 1], got {args.rollout_top_p}")
    if not -1 <= args.similarity_threshold <= 1:
        raise CotlensError(f"--similarity-threshold must be in [-1, 1], got {args.similarity_threshold}")
    check_embedder(args.embedder)


def settings_for(trace: Trace, args: ResamplingArgs) -> GenerationSettings:
    return GenerationSettings(max_new_tokens=args.rollout_tokens or trace.generation.max_new_tokens,
                              temperature=args.rollout_temperature, top_p=args.rollout_top_p)


def seeds_for(trace: Trace, n: int) -> list[int]:
    """Rollout r's seed: from (the trace's seed, r), the same for every cut (the prompts differ)."""
    return [int.from_bytes(hashlib.sha256(f"{trace.seed}:rollout:{r}".encode()).digest()[:4], "little")
            for r in range(n)]


def groups_for(n_steps: int, args: ResamplingArgs) -> tuple[list[int], list[int]]:
    """The steps resampled and the cuts (groups) they need: step i compares cut i with cut i + 1."""
    steps = positions(n_steps, args.resample_steps)
    return steps, sorted({k for i in steps for k in (i, i + 1)})


# -- the measures, from a group's answers ------------------------------------------------------------------------
def accuracy(correct: Sequence[bool]) -> float:
    return sum(correct) / len(correct) if correct else 0.0


def kl_answers(a: Sequence[AnswerKey], b: Sequence[AnswerKey], alpha: float = ALPHA) -> float:
    """KL(a || b) between two sets of answers' distributions, each count plus ``alpha`` over the answers seen in
    either (``calculate_kl_divergence``, answer distributions); 0 when either is empty."""
    if not a or not b:
        return 0.0
    ca, cb = Counter(a), Counter(b)
    support = set(ca) | set(cb)
    ta, tb = len(a) + alpha * len(support), len(b) + alpha * len(support)
    kl = 0.0
    for x in support:
        p, q = (ca[x] + alpha) / ta, (cb[x] + alpha) / tb
        kl += p * math.log(p / q)
    return max(0.0, kl)


def kl_dist(p: Sequence[float], q: Sequence[float], alpha: float = ALPHA) -> float:
    """KL(p || q) between two distributions over the same choices, smoothed as ``kl_answers``."""
    v = len(p)
    ps = [(x + alpha) / (1 + alpha * v) for x in p]
    qs = [(x + alpha) / (1 + alpha * v) for x in q]
    return max(0.0, sum(a * math.log(a / b) for a, b in zip(ps, qs, strict=True) if a > 0))


def forced_distribution(logprobs: Sequence[float], temperature: float) -> list[float]:
    """The choice distribution of an answer sampled at ``temperature`` (greedy: all mass on the argmax)."""
    if temperature <= 0:
        best = argmax(logprobs)
        return [float(i == best) for i in range(len(logprobs))]
    z = [x / temperature for x in logprobs]
    top = max(z)
    e = [math.exp(x - top) for x in z]
    return [x / sum(e) for x in e]


def step_measures(group: Mapping[str, Any], nxt: Mapping[str, Any], threshold: float) -> dict[str, Any]:
    """One step's resampling and counterfactual importance from group i (``group``) and group i + 1."""
    sims = group["similarity"]
    dis = [j for j, s in enumerate(sims) if s is not None and s < threshold]
    sim = [j for j, s in enumerate(sims) if s is not None and s >= threshold]
    firsts = [f for f, s in zip(group["first_steps"], sims, strict=True) if s is not None]
    out: dict[str, Any] = {
        "resampling_accuracy": accuracy(nxt["correct"]) - accuracy(group["correct"]),
        "resampling_kl": kl_answers(group["answers"], nxt["answers"]),
        "different_fraction": len(dis) / len(sims) if sims else 0.0,
        "overdeterminedness": 1 - len(set(firsts)) / len(firsts) if firsts else 0.0,
        "counterfactual_accuracy": None,
        "counterfactual_kl": None,
    }
    if dis:
        out["counterfactual_accuracy"] = (accuracy([group["correct"][j] for j in dis])
                                          - accuracy(nxt["correct"]))
        out["counterfactual_kl"] = kl_answers([group["answers"][j] for j in dis],
                                              list(nxt["answers"]) + [group["answers"][j] for j in sim])
    return out


def _resampled_importance(groups: Mapping[int, Sequence[bool]], steps: Sequence[int],
                          rng: np.random.Generator) -> list[float]:
    """Resampling importance (accuracy) of each step with every group's rollouts resampled with replacement."""
    acc = {}
    for k, right in groups.items():
        arr = np.asarray(right, dtype=float)
        acc[k] = float(arr[rng.integers(0, len(arr), len(arr))].mean()) if len(arr) else 0.0
    return [acc[i + 1] - acc[i] for i in steps]


def _ci(values: Sequence[float]) -> list[float]:
    lo, hi = np.quantile(np.asarray(values), [0.025, 0.975])
    return [float(lo), float(hi)]


# -- the run ---------------------------------------------------------------------------------------------------
def run(ctx: MetricContext, sample: Sample, trace: Trace, rng: random.Random, args: ResamplingArgs) -> Record:
    n = len(trace.steps)
    acc = float(correct(sample, trace_key(trace)))
    free = sample.free is not None
    empty = {"max_abs_importance": None, "mean_abs_importance": None, "max_kl": None,
             "max_abs_counterfactual": None, "max_abs_forced": None, "different_fraction": None,
             "accuracy": acc}
    if n == 0:
        return make_record(METRIC, args, trace, empty, {"n_steps": 0, "skipped": "the CoT has no steps"})
    settings = settings_for(trace, args)
    seeds = seeds_for(trace, args.rollouts)
    steps, cuts = groups_for(n, args)
    embedder = load_embedder(args.embedder)
    prefixes = {k: join_steps(trace.cot, trace.steps, k) for k in cuts}
    # forced answers: the answer right after each cut, all in one (shared-prefix) scoring call
    forced_read = read_answers(ctx.model, sample, [answer_prompt(sample, prefixes[k]) for k in cuts],
                               score_shared(ctx.model))
    forced_lp = [r.logprobs or [] for r in forced_read]
    forced = {k: forced_distribution(lp, args.rollout_temperature) for k, lp in zip(cuts, forced_lp, strict=True)
              if not free}
    forced_keys = {k: r.key for k, r in zip(cuts, forced_read, strict=True)}
    groups: dict[int, dict[str, Any]] = {}
    # every cut's rollouts in one call: a local backend decodes them together from one prefix tree (each cut's
    # prefix extends the one before); the call cache keeps each rollout once the call returns
    ctx.note(f"{len(cuts)} cuts x {args.rollouts} rollouts")
    every = sample_rollouts(ctx.model, [continue_prompt(sample, prefixes[k]) for k in cuts], settings,
                            [seeds] * len(cuts))
    for k, texts in zip(cuts, every, strict=True):
        cots = [join_continuation(prefixes[k], t) for t in texts]
        read = read_answers(ctx.model, sample, [answer_prompt(sample, c) for c in cots], score_shared(ctx.model))
        answers = [r.key for r in read]
        firsts = [(split_steps(clean_cot(t)) or (None,))[0] for t in texts]
        first_text = [f.text if f is not None else "" for f in firsts]
        sims: list[float | None] = [None] * len(texts)
        if k < n:
            found = [r for r, f in enumerate(first_text) if f]
            if found:
                vecs = embedder.embed([trace.steps[k].text] + [first_text[r] for r in found])
                for r, v in zip(found, vecs[1:], strict=True):
                    sims[r] = cosine(vecs[0], v)
        groups[k] = {"k": k, "answers": answers, "correct": [correct(sample, a) for a in answers],
                     "malformed": [r.malformed for r in read], "first_steps": first_text,
                     "similarity": sims, "rollouts": texts,
                     **({"answers_raw": [r.raw for r in read]} if free else {"logprobs": [r.logprobs for r in read]})}
    brng = np.random.default_rng(rng.randrange(2**32))
    boots = [_resampled_importance({k: g["correct"] for k, g in groups.items()}, steps, brng) for _ in range(N_BOOT)]
    per_step = []
    for col, i in enumerate(steps):
        m = step_measures(groups[i], groups[i + 1], args.similarity_threshold)
        if free:  # the forced answer is one greedy generation: a point mass on what was extracted
            ka, kb = forced_keys[i], forced_keys[i + 1]
            fd = {"forced_accuracy": float(correct(sample, kb)) - float(correct(sample, ka)),
                  "forced_kl": kl_answers([ka], [kb])}
        else:
            fa, fb = forced[i], forced[i + 1]
            fd = {"forced_accuracy": fb[sample.answer] - fa[sample.answer], "forced_kl": kl_dist(fa, fb)}
        m.update(step=i, text=trace.steps[i].text, ci=_ci([b[col] for b in boots]), **fd)
        per_step.append(m)
    imp = [abs(m["resampling_accuracy"]) for m in per_step]
    cf = [abs(m["counterfactual_accuracy"]) for m in per_step if m["counterfactual_accuracy"] is not None]
    values = {
        "max_abs_importance": max(imp),
        "mean_abs_importance": sum(imp) / len(imp),
        "max_kl": max(m["resampling_kl"] for m in per_step),
        "max_abs_counterfactual": max(cf) if cf else None,
        "max_abs_forced": max(abs(m["forced_accuracy"]) for m in per_step),
        "different_fraction": sum(m["different_fraction"] for m in per_step) / len(per_step),
        "accuracy": acc,
    }
    return make_record(METRIC, args, trace, values, {
        "n_steps": n, "steps": per_step,
        "groups": [groups[k] for k in cuts],
        "forced": [{"k": k, "answer": forced_keys[k], **({"answer_raw": r.raw} if free else
                                                          {"logprobs": lp, "distribution": forced[k]})}
                   for k, lp, r in zip(cuts, forced_lp, forced_read, strict=True)],
        "max_abs_importance_ci": _ci([max(abs(x) for x in b) for b in boots]),
        "curve": [((m["step"] + 1) / n, m["resampling_accuracy"]) for m in per_step],
        "embedder": embedder.identity, "rollout_settings": settings.to_dict(), "seeds": seeds,
        "scoring": "shared_prefix" if has(ctx.model, SCORE_PREFIXES) else "separate",
    })


# -- cost, summary, report ---------------------------------------------------------------------------------------
def plan(traces: Sequence[Trace], args: ResamplingArgs) -> str:
    """The work stated before the run starts: rollouts, the tokens they will write, answer readings."""
    rollouts = expected = bound = forced = 0
    for t in traces:
        if not t.steps:
            continue
        _, cuts = groups_for(len(t.steps), args)
        budget = args.rollout_tokens or t.generation.max_new_tokens
        rollouts += len(cuts) * args.rollouts
        forced += len(cuts)
        bound += len(cuts) * args.rollouts * budget
        for k in cuts:  # expect a rollout to be about as long as the part of the CoT it rewrites
            left = 1 - len(join_steps(t.cot, t.steps, k)) / max(1, len(t.cot))
            expected += args.rollouts * min(budget, round(t.cot_tokens * left) + 1)
    return (f"{len(traces)} CoTs: {rollouts:,} rollouts ({args.rollouts} per cut) writing about {expected:,} new "
            f"tokens (at most {bound:,}), {rollouts + forced:,} answers read")


def rollout_ci(records: Sequence[Record], seed: int) -> list[float] | None:
    """The headline's 95% interval over samples and their rollouts together: resample the samples, then each
    sample's rollouts within every group, and recompute the mean of ``max_abs_importance``."""
    data = []
    for r in records:
        steps = [m["step"] for m in r.details.get("steps", [])]
        if steps:
            data.append(({g["k"]: g["correct"] for g in r.details["groups"]}, steps))
    if not data:
        return None
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(N_BOOT):
        pick = rng.integers(0, len(data), len(data))
        means.append(float(np.mean([max(abs(x) for x in _resampled_importance(data[i][0], data[i][1], rng))
                                    for i in pick])))
    return _ci(means)


def extra_summary(records: Sequence[Record], seed: int, args: ResamplingArgs) -> dict[str, Any]:
    per_step: dict[int, list[float]] = {}
    for r in records:
        for m in r.details.get("steps", []):
            per_step.setdefault(m["step"], []).append(m["resampling_accuracy"])
    embedders = sorted({str(r.details["embedder"].get("spec")) for r in records if r.details.get("embedder")})
    return {"rollout_ci": rollout_ci(records, seed),
            "by_step": {str(k): sum(v) / len(v) for k, v in sorted(per_step.items())},
            "embedder": embedders[0] if len(embedders) == 1 else embedders,
            "rollouts": args.rollouts}


def section(entry: dict[str, Any]) -> str:
    ci = entry.get("rollout_ci")
    by_step = entry.get("by_step") or {}
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{v:+.3f}</td></tr>" for k, v in by_step.items())
    return (f"<p>Largest |resampling importance| per CoT, 95% interval over samples and rollouts: "
            f"{escape(str([round(x, 3) for x in ci]) if ci else '-')}; {escape(str(entry.get('rollouts')))} "
            f"rollouts per cut; sentence embedder {escape(str(entry.get('embedder')))}.</p>"
            f"<details><summary>mean resampling importance by step index</summary><table><tr><th>step</th>"
            f"<th>importance</th></tr>{rows}</table></details>")


def evidence(record: Record, sample: Sample, trace: Trace) -> str:
    """Each step shaded by its resampling importance, with the accuracy of the rollouts before and after it."""
    steps = record.details.get("steps")
    if not steps:
        return skipped_html(record)
    groups = {g["k"]: g for g in record.details["groups"]}
    parts = []
    for m in steps:
        i = m["step"]
        x = m["resampling_accuracy"]
        shade = f"rgba({'46,125,50' if x >= 0 else '198,40,40'},{min(1.0, abs(x)):.2f})"
        cf = m["counterfactual_accuracy"]
        tip = (f"step {i + 1}: resampling importance {x:+.2f} [{m['ci'][0]:+.2f}, {m['ci'][1]:+.2f}], KL "
               f"{m['resampling_kl']:.2f}, counterfactual {'-' if cf is None else f'{cf:+.2f}'}, different "
               f"{m['different_fraction']:.0%}, forced {m['forced_accuracy']:+.2f}; accuracy without the step "
               f"{accuracy(groups[i]['correct']):.2f}, with it {accuracy(groups[i + 1]['correct']):.2f}")
        parts.append(f"<span class='step' style='background:{shade}' title='{escape(tip, quote=True)}'>"
                     f"{escape(m['text'])}</span>")
    first = groups[min(groups)]
    answers = "".join(chip(a, sample.answer) for a in first["answers"][:24])
    return ("<div class='ev'><div class='cot'>" + " ".join(parts) + "</div><div class='legend'>each step shaded by "
            "how much keeping it (rather than resampling it) raises (green) or lowers (red) the rollouts' accuracy; "
            f"hover for the numbers. Answers of the rollouts from the first cut: {answers}</div></div>")


def readouts(record: Record, trace: Trace) -> list[Readout]:
    """Each rollout's answer after the CoT it wrote."""
    out = []
    for g in record.details.get("groups", []):
        head = join_steps(trace.cot, trace.steps, g["k"])
        for text, a, lp in zip(g["rollouts"], g["answers"], g.get("logprobs") or [[]] * len(g["answers"]),
                               strict=True):
            out.append(Readout("rollout", join_continuation(head, text), a, lp))
    return out


def need(shape: Shape, args: ResamplingArgs) -> Need:
    """Per cut: the forced answer read, then each rollout written from it (up to its budget) and read."""
    steps, cuts = groups_for(max(1, round(shape.steps)), args)
    budget = args.rollout_tokens or shape.max_new_tokens
    r = len(cuts) * args.rollouts
    return reads(shape, len(cuts), 0.5) + writes(shape, r, shape.question_tokens + shape.cot_tokens / 2,
                                                  budget) + reads(shape, r, 1.0)


METRIC = Metric(
    name="resampling_importance",
    need=need,
    free_form=True,
    needs_raw_cot=True,
    version=1,
    args_type=ResamplingArgs,
    run=run,
    primary="max_abs_importance",
    description="Largest change in the rollouts' accuracy from keeping one CoT step rather than resampling it "
                "(Thought Anchors, Bogdan et al. 2025)",
    curve=points_curve,
    curve_label="fraction of the CoT through the step",
    curve_y_label="accuracy kept minus resampled",
    check=check,
    extra_summary=extra_summary,
    section=section,
    evidence=evidence,
    readouts=readouts,
    plan=plan,
    validated_by="choice",
    variants={
        "paper": Variant(ResamplingArgs(), "the paper's temperature 0.6 and top-p 0.95"),
    },
)

__all__ = ["EMBEDDERS", "METRIC", "ResamplingArgs"]
