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
