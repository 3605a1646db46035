"""A judge calibrated against human labels: its sensitivity and specificity, and a rate corrected for its errors.

A judge (an LLM asked whether a CoT verbalises a hint, a monitor's own yes/no) that reports "12% of CoTs
verbalise the hint" reports an *apparent* rate p. Where people have labelled some of the items it judged, its
sensitivity Se = P(judge yes | human yes) and specificity Sp = P(judge no | human no) are measured, each with an
exact binomial (Clopper-Pearson) interval, and the rate corrected for the judge's errors is Rogan & Gladen's
(1978, "Estimating prevalence from the results of a screening test", Am. J. Epidemiol. 107(1)):

    pi = (p + Sp - 1) / (Se + Sp - 1),  clipped to [0, 1],

defined where Se + Sp > 1 (a judge better than a coin). Its 95% interval is a percentile bootstrap that
propagates all three sources of error: each replicate resamples the human-labelled positives (for Se), the
labelled negatives (for Sp) and the judged population (for p), independently. This is the bootstrap route that
Lang & Reiczigel 2014 ("Confidence limits for prevalence of disease adjusted for estimated sensitivity and
specificity", Prev. Vet. Med. 113) compare with their adjusted Wald interval; we use it for its plain
assumptions and because every other interval in cotlens is a bootstrap. The correction assumes Se and Sp
measured on the labelled items hold on the whole population (label a random sample, not only the flagged items,
or Se and Sp are biased: the review page samples both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cotlens.stats import N_BOOT, clopper_pearson
from cotlens.types import OMIT_NONE, Estimate, JsonResult


@dataclass(frozen=True)
class Confusion(JsonResult):
    """Judge against human, over the items both labelled."""

    tp: int
    fp: int
    fn: int
    tn: int


@dataclass(frozen=True)
class Calibration(JsonResult):
    """One judge against human labels, and the population rate it reports, raw and corrected."""

    confusion: Confusion
    sensitivity: Estimate
    """TP / (TP + FN), Clopper-Pearson 95% interval."""
    specificity: Estimate
    """TN / (TN + FP), Clopper-Pearson 95% interval."""
    apparent: Estimate
    """The judge's yes rate over the population it judged, Clopper-Pearson 95% interval."""
    corrected: Estimate
    """Rogan-Gladen, clipped to [0, 1], with a percentile bootstrap interval (module docstring)."""
    why: str | None = field(default=None, metadata=OMIT_NONE)
    """Why ``corrected`` is missing."""


def confusion(pairs: Sequence[tuple[bool, bool]]) -> Confusion:
    """(judge, human) pairs counted."""
    return Confusion(tp=sum(j and h for j, h in pairs), fp=sum(j and not h for j, h in pairs),
                     fn=sum(h and not j for j, h in pairs), tn=sum(not j and not h for j, h in pairs))


def rogan_gladen(p: float, se: float, sp: float) -> float | None:
    """(p + Sp - 1) / (Se + Sp - 1) clipped to [0, 1]; None where Se + Sp <= 1."""
    youden = se + sp - 1.0
    if youden <= 0:
        return None
    return min(1.0, max(0.0, (p + sp - 1.0) / youden))


def calibrate(pairs: Sequence[tuple[bool, bool]], population: Sequence[bool], seed: int = 0,
              n_boot: int = N_BOOT) -> Calibration:
    """A judge's ``(judge, human)`` verdicts on the labelled items, and its verdicts on the ``population`` whose
    rate it reports."""
    c = confusion(pairs)
    se, sp = clopper_pearson(c.tp, c.tp + c.fn), clopper_pearson(c.tn, c.tn + c.fp)
    apparent = clopper_pearson(sum(population), len(population))
    why = None
    if se.value is None or sp.value is None:
        why = "the human labels hold no " + ("positive" if se.value is None else "negative") + " item"
    elif apparent.value is None:
        why = "the judge judged no item of the population"
    elif se.value + sp.value <= 1:
        why = f"Se + Sp = {se.value + sp.value:.2f} <= 1: the judge is no better than chance, nothing to correct by"
    if why is not None or se.value is None or sp.value is None or apparent.value is None:
        return Calibration(c, se, sp, apparent, Estimate(None, None, len(population)), why)
    point = rogan_gladen(apparent.value, se.value, sp.value)
    rng = np.random.default_rng(seed)
    n_pos, n_neg, n_pop = c.tp + c.fn, c.tn + c.fp, len(population)
    # resampling a set of 0/1 outcomes is drawing its count of ones from a binomial at its observed share
    se_b = rng.binomial(n_pos, se.value, size=n_boot) / n_pos
    sp_b = rng.binomial(n_neg, sp.value, size=n_boot) / n_neg
    p_b = rng.binomial(n_pop, apparent.value, size=n_boot) / n_pop
    reps = [r for a, b, q in zip(se_b, sp_b, p_b, strict=True)
            if (r := rogan_gladen(float(q), float(a), float(b))) is not None]
    ci = None
    if reps:
        lo, hi = np.quantile(np.asarray(reps), [0.025, 0.975])
        ci = (float(lo), float(hi))
    return Calibration(c, se, sp, apparent, Estimate(point, ci, n_pop), why)
