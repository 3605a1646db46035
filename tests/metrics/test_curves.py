from __future__ import annotations

import pytest

from cotlens.metrics.curves import area, interpolate, sample_aoc, weighted_aoc


def test_area_trapezoid() -> None:
    assert area([(0, 0), (1, 1)]) == pytest.approx(0.5)
    assert area([(0, 1), (0.5, 1), (1, 1)]) == pytest.approx(1.0)


def test_aoc_hand_computed_fixture_of_different_lengths() -> None:
    # Two CoTs of 2 steps (3 points) and one of 4 steps (5 points).
    a = [(0, 0), (0.5, 0), (1, 1)]               # area 0.25 -> AOC 0.75
    b = [(0, 0), (0.5, 1), (1, 1)]               # area 0.75 -> AOC 0.25
    c = [(0, 1), (0.25, 0), (0.5, 0), (0.75, 1), (1, 1)]  # area .125+0+.125+.25 = .5 -> AOC .5
    assert sample_aoc(a) == pytest.approx(0.75)
    assert sample_aoc(b) == pytest.approx(0.25)
    assert sample_aoc(c) == pytest.approx(0.5)
    # Paper: length 2 has mean curve (0,0),(0.5,0.5),(1,1): area .5, AOC .5, weight 2/3;
    # length 4: AOC .5, weight 1/3. Weighted AOC = 2/3*.5 + 1/3*.5 = .5
    assert weighted_aoc([a, b, c]) == pytest.approx(0.5)
    # ... and it equals the mean of per-sample AOCs: (.75 + .25 + .5)/3 = .5
    d = [(0, 1), (1, 1)]  # 1 step, answer never changes: AOC 0
    # lengths 2 (x2), 4 (x1), 1 (x1): 2/4*.5 + 1/4*.5 + 1/4*0 = .375
    assert weighted_aoc([a, b, c, d]) == pytest.approx(0.375)
    assert weighted_aoc([a, b, c, d]) == pytest.approx((0.75 + 0.25 + 0.5 + 0) / 4)


def test_weighted_aoc_empty() -> None:
    assert weighted_aoc([]) is None


def test_interpolate() -> None:
    assert interpolate([(0, 0), (0.5, 1), (1, 1)], [0, 0.25, 0.5, 1.0]) == [0, 0.5, 1, 1]
