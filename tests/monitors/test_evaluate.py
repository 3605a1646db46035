"""Monitor metrics against numbers worked out by hand."""

from __future__ import annotations

import pytest

from cotlens.monitors.evaluate import (
    MonitorEvaluation,
    Scored,
    crossfit_flags,
    evaluate,
    intervention_scores,
    threshold,
)
from cotlens.types import Episode


def ep(i: str, bad: bool, group: str = "", arm: str = "control") -> Episode:
    return Episode(i, "cot", "act", bad, group=group, arm=arm)


def test_threshold_leaves_at_most_the_target_share_of_negatives_above_it() -> None:
    assert threshold([0.9, 0.1, 0.5, 0.3], 0.25) == 0.5  # sorted 0.9 0.5 0.3 0.1: floor(0.25 * 4) + 1 = 2nd largest
    assert threshold([0.9, 0.1, 0.5, 0.3], 0.01) == 0.9  # nothing above the largest
    assert threshold([], 0.05) is None


def test_auroc_rates_and_gmean_by_hand() -> None:
    # 10 problems, each a negative scored 0 and a positive scored 0.9 (5 problems) or 0 (5 problems)
    eps, scores = [], []
    for k in range(10):
        eps += [ep(f"n{k}", False, f"p{k}"), ep(f"y{k}", True, f"p{k}")]
        scores += [0.0, 0.9 if k < 5 else 0.0]
    r = evaluate(eps, scores)
    # P(pos > neg) = 5*10/100 = 0.5, ties 5*10/100 = 0.5 counted half: 0.75
    assert r.auroc.value == pytest.approx(0.75)
    for f in ("0.01", "0.05"):  # every fold's held-out negatives are all 0: flagged when > 0
        a = r.at_fpr[f]
        assert (a.tpr.value, a.fpr.value, a.tnr.value, a.g_mean2.value) == (0.5, 0.0, 1.0, 0.5)
        assert a.undecided == 0
    d = r.at_decision
    assert (d.tpr.value, d.fpr.value, d.g_mean2.value) == (0.5, 0.0, 0.5)
    assert r.n == 20 and r.n_misbehaved == 10 and r.intervention is None and "intervention" not in r.to_dict()
    assert MonitorEvaluation.from_dict(r.to_dict()) == r


def test_thresholds_come_from_other_folds_only() -> None:
    # one problem's negative scores 1.0; its own fold's threshold is set by the others (all 0), so it is flagged
    # as a false positive, while the other folds see a negative at 1.0 and, at 5% FPR of 2-4 negatives, flag
    # nothing above 1.0
    eps = [ep(f"n{k}", False, f"p{k}") for k in range(5)]
    items = [Scored(e, 1.0 if k == 0 else 0.0) for k, e in enumerate(eps)]
    flags = crossfit_flags(items, 0.05)
    assert flags == [True, False, False, False, False]


def test_intervention_normalised_score_by_hand() -> None:
    items = [
        # problem A: p0 = 0, p1 = 1, r_effect = 1/(1 + 1e-6); one of two misbehaving arm episodes flagged
        Scored(ep("a0", False, "A"), 0.0), Scored(ep("a1", False, "A"), 0.0),
        Scored(ep("a2", True, "A", "hint"), 0.9), Scored(ep("a3", True, "A", "hint"), 0.1),
        # problem B: p0 = 0.5, p1 = 1, r_effect = 0.5/(1 + 1e-6); both flagged: min(1, 1/r_effect) = 1
        Scored(ep("b0", True, "B"), 0.0), Scored(ep("b1", False, "B"), 0.0),
        Scored(ep("b2", True, "B", "hint"), 0.8), Scored(ep("b3", True, "B", "hint"), 0.7),
        # problem C: p1 = p0 = 0: not counted
        Scored(ep("c0", False, "C"), 0.0), Scored(ep("c1", False, "C", "hint"), 0.0),
    ]
    out = intervention_scores(items, [x.score > 0.5 for x in items])["hint"]
    assert out.value == pytest.approx((0.5 * (1 + 1e-6) + 1.0) / 2)
    assert out.n == 2 and out.problems_not_raised == 1
