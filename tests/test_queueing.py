"""Erlang B/C and the M/M/c wait quantile against direct textbook sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploycost.options.queueing import erlang_b, erlang_c, wait_quantile_s

from .conftest import erlang_c_direct


def erlang_b_recursive(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


@given(st.integers(1, 60), st.floats(0.01, 0.99))
def test_erlang_c_matches_direct_sum(c, rho):
    a = rho * c
    assert erlang_c(c, a) == pytest.approx(erlang_c_direct(c, a), rel=1e-9)


@given(st.integers(1, 3000), st.floats(0.05, 1.5))
def test_erlang_b_matches_recursion_for_thousands_of_servers(c, rho):
    a = rho * c
    assert erlang_b(c, a) == pytest.approx(erlang_b_recursive(c, a), rel=1e-8, abs=1e-300)


def test_textbook_values():
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(3, 3.0) == 1.0  # unstable
    assert erlang_c(10_000, 9_900.0) == pytest.approx(erlang_c(10_000, 9_900.0))
    assert 0.0 < erlang_c(10_000, 9_900.0) < 1.0


def test_mm1_wait_quantile():
    # M/M/1: P(W > t) = rho exp(-(mu - lambda) t) -> t99 = ln(rho / 0.01) / (mu - lambda)
    assert wait_quantile_s(1, 0.5, 1.0) == pytest.approx(math.log(50) / 0.5)
    assert wait_quantile_s(1, 0.005, 1.0) == 0.0  # waits less than 1 % of the time
    assert np.isinf(wait_quantile_s(2, 10.0, 4.0))  # unstable


def test_vectorized_shapes():
    out = wait_quantile_s(np.array([[2], [3]]), 500.0, np.array([400.0, 300.0]))
    assert out.shape == (2, 2)
