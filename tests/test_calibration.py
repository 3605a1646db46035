"""Judges calibrated against human labels (``cotlens.calibration``), against numbers computed by hand."""

from __future__ import annotations

import pytest
from scipy.stats import beta

from cotlens.calibration import calibrate, confusion, rogan_gladen


def cp(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson by its definition: beta quantiles (0 and 1 at the ends)."""
    lo = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
    return lo, hi


# 20 items a person labelled: 8 verbalise (the judge says yes to 6), 12 do not (the judge says yes to 3)
PAIRS = [(True, True)] * 6 + [(False, True)] * 2 + [(True, False)] * 3 + [(False, False)] * 9
# the population the judge reports on: 40 switched CoTs, 14 judged as verbalising
POPULATION = [True] * 14 + [False] * 26


def test_the_fixture_by_hand() -> None:
    c = calibrate(PAIRS, POPULATION, seed=0)
    assert (c.confusion.tp, c.confusion.fp, c.confusion.fn, c.confusion.tn) == (6, 3, 2, 9)
    assert c.sensitivity.value == 6 / 8 and c.specificity.value == 9 / 12 and c.apparent.value == 14 / 40
    assert c.sensitivity.ci == pytest.approx(cp(6, 8), abs=1e-9)
    assert c.specificity.ci == pytest.approx(cp(9, 12), abs=1e-9)
    assert c.sensitivity.ci == pytest.approx((0.3491, 0.9681), abs=1e-4)  # the textbook values for 6 of 8
    # Rogan-Gladen: (0.35 + 0.75 - 1) / (0.75 + 0.75 - 1) = 0.10 / 0.50
    assert c.corrected.value == pytest.approx(0.2)
    assert c.corrected.ci is not None and c.corrected.ci[0] <= 0.2 <= c.corrected.ci[1]
    assert c.corrected.ci[0] >= 0.0 and c.corrected.ci[1] <= 1.0
    # the interval propagates Se and Sp: wider than the apparent rate's own binomial interval
    assert c.apparent.ci is not None
    assert c.corrected.ci[1] - c.corrected.ci[0] > c.apparent.ci[1] - c.apparent.ci[0]
    assert calibrate(PAIRS, POPULATION, seed=0) == c  # seeded


def test_rogan_gladen_clips_and_refuses_a_chance_judge() -> None:
    assert rogan_gladen(0.2, 0.75, 0.75) == 0.0  # (0.2 - 0.25) / 0.5 < 0
    assert rogan_gladen(0.9, 0.75, 0.75) == 1.0  # (0.9 - 0.25) / 0.5 > 1
    assert rogan_gladen(0.5, 0.5, 0.5) is None
    assert rogan_gladen(0.3, 1.0, 1.0) == pytest.approx(0.3)  # a perfect judge needs no correction
    chance = calibrate([(True, True), (False, True), (True, False), (False, False)], POPULATION)
    assert chance.corrected.value is None and chance.why is not None and "no better than chance" in chance.why
    one_class = calibrate([(True, True), (False, True)], POPULATION)
    assert one_class.specificity.value is None and one_class.why == "the human labels hold no negative item"


def test_confusion_counts() -> None:
    assert confusion([]) == confusion([])
    assert confusion([(True, False)]).fp == 1
