"""Where an organism's answer becomes linearly readable: the latent probe at every CoT token, for ``validate``.

The ``latent_probe`` metric probes at step ends, which is what any model's CoT offers. An organism's CoTs on one
task share one template (``B=A+4=7. C=7+4=1. D=1+4=5.``: every step the same number of characters), so every
character position lines up across samples and the probe can be read token by token, the question's ``|`` (just
before the CoT) first and the ``>`` that asks for the answer last. Same probe, same folds by question, as the
metric (``cotlens.metrics.latent_probe``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from cotlens.metrics.latent_probe import cross_fit, question_folds
from cotlens.models.organism import OrganismModel
from cotlens.prompts import answer_prompt
from cotlens.stats import mean_estimate
from cotlens.types import Sample, Trace
from cotlens.validation.result import Position, TokenProbe

READABLE = 0.9
"""Held-out accuracy from which the answer counts as readable."""


def probe_by_token(name: str, samples: Sequence[Sample], traces: dict[str, Trace], seed: int) -> TokenProbe:
    """Held-out probe accuracy at each CoT character (all layers), for the CoTs of the most common length: where
    the answer is first readable (the best layer's accuracy reaches ``READABLE``) and from where it stays so."""
    model = OrganismModel(name, spec=f"organism:{name}")
    lengths = Counter(len(traces[s.id].cot) for s in samples if s.id in traces)
    if not lengths:
        return TokenProbe(why="no traces")
    length = max(lengths, key=lambda k: (lengths[k], k))
    keep = [s for s in samples if s.id in traces and len(traces[s.id].cot) == length]
    layers = list(range(model.n_layers + 1))
    feats = np.stack([model.residuals_at([answer_prompt(s, traces[s.id].cot)], [traces[s.id].cot],
                                         [list(range(length + 1))], layers)[0] for s in keep])  # [N, P, L, W]
    y = np.array([traces[s.id].answer for s in keep])
    folds = question_folds([s.question for s in keep], seed)
    acc = np.zeros((len(layers), feats.shape[1]))
    correct = np.zeros((len(layers), feats.shape[1], len(keep)))
    for li in range(len(layers)):
        for p in range(feats.shape[1]):
            correct[li, p] = cross_fit(feats[:, p, li].astype(np.float64), y, folds) == y
            acc[li, p] = correct[li, p].mean()
    best = int(acc[:, :-1].mean(1).argmax())
    template = re.sub(r"\d", "d", traces[keep[0].id].cot)
    labels = ["|", *template, ">"]  # position 0 reads up to the '|'; the last is the answer prompt's '>'
    per_layer = {str(layer): [round(float(a), 4) for a in acc[li]] for li, layer in enumerate(layers)}
    top = acc.max(0)
    readable_from = next((i for i in range(len(top)) if all(top[j] >= READABLE for j in range(i, len(top)))), None)
    first = next((i for i in range(len(top)) if top[i] >= READABLE), None)
    return TokenProbe(
        n=len(keep), n_questions=len(set(s.question for s in keep)), cot_length=length,
        positions=labels, by_layer=per_layer, best_layer=layers[best],
        best_layer_ci=[mean_estimate(list(correct[best, p]), seed).ci for p in range(feats.shape[1])],
        chance=max(Counter(y.tolist()).values()) / len(y),
        first_readable=_where(first, labels), readable_from=_where(readable_from, labels))


def _where(i: int | None, labels: Sequence[str]) -> Position | None:
    """A position (an index into ``labels``) and what it is."""
    if i is None:
        return None
    where = ("before the CoT" if i == 0 else "at the answer prompt's '>' (after the CoT)" if i == len(labels) - 1
             else f"CoT character {i} of {len(labels) - 2}, after reading {''.join(labels[1 : i + 1])!r}")
    return Position(i, labels[i], where)
