from __future__ import annotations

import numpy as np

from cotlens.stats import bootstrap, mean_estimate


def test_mean_estimate_interval_contains_mean_and_is_reproducible() -> None:
    xs = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    e = mean_estimate(xs, seed=3)
    assert e.value == 0.7 and e.n == 10
    assert e.ci is not None and e.ci[0] < 0.7 < e.ci[1]
    assert mean_estimate(xs, seed=3) == e


def test_mean_estimate_skips_missing_and_empty() -> None:
    assert mean_estimate([None, 1.0, None]).n == 1
    assert mean_estimate([]).value is None


def test_bootstrap_matches_normal_theory_roughly() -> None:
    rng = np.random.default_rng(0)
    xs = list(rng.normal(0, 1, 400))
    e = bootstrap(xs, lambda v: float(np.mean(v)), seed=1)
    assert e.ci is not None
    width = e.ci[1] - e.ci[0]
    assert abs(width - 2 * 1.96 / 20) < 0.03  # 2 * 1.96 * sd / sqrt(n)


def test_auroc_hand_computed() -> None:
    from cotlens.stats import auroc, auroc_estimate

    # positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5) (0.9>0.1) (0.5=0.5 -> half) (0.5>0.1) = 3.5/4
    assert auroc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == 0.875
    assert auroc([1, 2], [1, 1]) is None
    assert auroc([0.0, 1.0], [1, 0]) == 0.0
    e = auroc_estimate([0.9, 0.8, 0.7, 0.3, 0.2, 0.1], [1, 1, 1, 0, 0, 0])
    assert e.value == 1.0 and e.ci == (1.0, 1.0) and e.n == 6


def test_logsumexp_rows_is_scipys_bit_for_bit() -> None:
    """The probe's hand-written log-sum-exp (``cotlens.stats._logsumexp_rows``) keeps its fits identical."""
    from scipy.special import logsumexp

    from cotlens.stats import _logsumexp_rows

    rng = np.random.default_rng(0)
    for i in range(300):
        z = rng.normal(size=(int(rng.integers(1, 50)), int(rng.integers(2, 11)))) * [1e-3, 1.0, 40.0][i % 3]
        if i % 4 == 0:
            z[:, 1] = z[:, 0]  # tied maxima
        if i % 7 == 0:
            z[:] = 0.0
        assert np.array_equal(_logsumexp_rows(z), logsumexp(z, axis=1))
