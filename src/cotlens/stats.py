"""Bootstrap confidence intervals: resample samples with replacement and recompute the statistic.

Percentile intervals (95% by default) from 2,000 resamples with a fixed seed, so a summary is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from cotlens.types import Estimate

T = TypeVar("T")
N_BOOT = 2000


def bootstrap(
    items: Sequence[T],
    statistic: Callable[[Sequence[T]], float | None],
    *,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """The statistic on ``items`` with a percentile bootstrap interval over resampled items."""
    n = len(items)
    if n == 0:
        return Estimate(None, None, 0)
    value = statistic(items)
    if value is None:
        return Estimate(None, None, n)
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        s = statistic([items[i] for i in idx])
        if s is not None:
            stats.append(s)
    if not stats:
        return Estimate(float(value), None, n)
    lo, hi = np.quantile(np.asarray(stats), [(1 - level) / 2, 1 - (1 - level) / 2])
    return Estimate(float(value), (float(lo), float(hi)), n)


def mean_estimate(values: Sequence[float | None], seed: int = 0) -> Estimate:
    """Mean of the non-missing values with its bootstrap interval."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return Estimate(None, None, 0)
    arr = np.asarray(xs)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(N_BOOT, len(arr)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return Estimate(float(arr.mean()), (float(lo), float(hi)), len(xs))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> Estimate:
    """The share ``k / n`` with its exact binomial (Clopper-Pearson) interval: the rate at which something
    happens over ``n`` independent runs (seeds). No interval for ``n = 0``."""
    if n == 0:
        return Estimate(None, None, 0)
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return Estimate(k / n, (float(ci.low), float(ci.high)), n)


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counted half
    (the Mann-Whitney U statistic over n_pos * n_neg). None without both classes."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    p = np.asarray(pos)[:, None]
    q = np.asarray(neg)[None, :]
    return float(((p > q).sum() + 0.5 * (p == q).sum()) / (len(pos) * len(neg)))


def auroc_estimate(scores: Sequence[float], labels: Sequence[int], seed: int = 0) -> Estimate:
    """AUROC with a percentile bootstrap interval, resampling samples within each class (stratified)."""
    pairs = list(zip(scores, labels, strict=True))
    value = auroc(scores, labels)
    if value is None:
        return Estimate(None, None, len(pairs))
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(N_BOOT):
        bp = [pos[i] for i in rng.integers(0, len(pos), len(pos))]
        bn = [neg[i] for i in rng.integers(0, len(neg), len(neg))]
        a = auroc(bp + bn, [1] * len(bp) + [0] * len(bn))
        if a is not None:
            stats.append(a)
    lo, hi = np.quantile(np.asarray(stats), [0.025, 0.975])
    return Estimate(value, (float(lo), float(hi)), len(pairs))


def _logsumexp_rows(z: np.ndarray) -> np.ndarray:
    """``scipy.special.logsumexp(z, axis=1)``, the same operations in the same order (bit for bit: the maxima
    taken out of the sum, ``log1p``), without its array-API dispatch, which costs 10x the arithmetic at a probe's
    sizes (tens of rows, a few classes) and made the probe's fits most of ``cotlens validate``'s time."""
    top = z.max(1, keepdims=True)
    is_top = z == top
    m = is_top.sum(1, keepdims=True).astype(z.dtype)
    s = np.exp(np.where(is_top, -np.inf, z) - top).sum(1, keepdims=True) / m
    return np.asarray((np.log1p(s) + np.log(m) + top)[:, 0])


def logistic_proba(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features, L2 as scikit-learn's C = 1 (summed
    cross-entropy + ||W||^2 / 2), fitted with scipy's L-BFGS-B: the classes seen in training and each test row's
    probability of each ([rows, classes]). One class only: probability 1 for it."""
    from scipy.optimize import minimize

    classes = np.unique(y_train)
    if len(classes) == 1:
        return classes, np.ones((len(x_test), 1))
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    a = (x_train - mu) / sd
    n, d = a.shape
    c = len(classes)
    yi = np.searchsorted(classes, y_train)
    onehot = np.zeros((n, c))
    onehot[np.arange(n), yi] = 1.0

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * c].reshape(d, c), theta[d * c :]
        z = a @ w + b
        lse = _logsumexp_rows(z)
        loss = float((lse - z[np.arange(n), yi]).sum() + 0.5 * (w * w).sum())
        p = np.exp(z - lse[:, None]) - onehot
        return loss, np.concatenate([(a.T @ p + w).ravel(), p.sum(0)])

    res = minimize(loss_grad, np.zeros(d * c + c), jac=True, method="L-BFGS-B",
                   options={"maxiter": 1000, "gtol": 1e-6})
    w, b = res.x[: d * c].reshape(d, c), res.x[d * c :]
    z = ((x_test - mu) / sd) @ w + b
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return classes, e / e.sum(1, keepdims=True)


N_PERM = 10_000


def paired_difference(x: Sequence[float], y: Sequence[float], seed: int = 0) -> tuple[Estimate, float | None]:
    """The mean paired difference mean(y - x) with its bootstrap interval (pairs resampled together), and the
    two-sided p-value of a paired permutation test (each pair's two values swapped or not: a sign flip of its
    difference), from ``scipy.stats.permutation_test``: exact over all 2^n flips when there are at most
    ``N_PERM``, else ``N_PERM`` random flips with p = (count + 1) / (N_PERM + 1). No pairs: no value."""
    from scipy.stats import permutation_test

    if len(x) != len(y):
        raise ValueError(f"paired_difference: {len(x)} and {len(y)} values")
    if not x:
        return Estimate(None, None, 0), None
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    est = mean_estimate(list(b - a), seed)

    def stat(u: np.ndarray, v: np.ndarray, axis: int) -> np.ndarray:
        return np.asarray(np.mean(v - u, axis=axis))

    res = permutation_test((a, b), stat, permutation_type="samples", vectorized=True, n_resamples=N_PERM,
                           alternative="two-sided", rng=seed)
    return est, float(min(1.0, res.pvalue))
