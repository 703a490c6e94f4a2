"""The founding document's five functions: working, unit-checked, array-friendly."""

from __future__ import annotations

import numpy as np
import pytest

from deploycost.seed import (
    compute_resource_cost,
    data_cost,
    human_cost,
    model_storage_cost,
    multi_model_fusion_cost,
)


def test_document_call_with_corrected_units():
    # the document's section 5.4 inputs, with sizes in GB (its 1024/5120 "MB" are 1 and 5 GB)
    assert data_cost(10, [1, 5], 0.8) == pytest.approx((1 + 5) / 0.8 * 10)
    assert compute_resource_cost(100, [1, 5], [500, 200], 100000, 0.9) == pytest.approx(
        2 * 24 * 100
    )
    assert human_cost(1000, [1, 5], [500, 200], 100000, 0.9, 2) == pytest.approx(
        2 * 2 * 1000 / 30.4
    )
    assert multi_model_fusion_cost(100, 0.5) == 50.0
    assert model_storage_cost([1, 5], [2000, 10000], [0.2, 0.12]) == pytest.approx(
        (1 * 0.2 + 5 * 0.12) / 30.4
    )


def test_scalars_lists_and_arrays_agree():
    as_list = data_cost(10, [1, 5], 0.8)
    assert data_cost(10, np.array([1.0, 5.0]), 0.8) == as_list
    assert data_cost(10, 1, 0.8) + data_cost(10, 5, 0.8) == pytest.approx(as_list)


def test_compute_scales_replicas_with_peak_traffic():
    # 1,000,000 queries/day, peak 3x mean = 34.7 qps; 10 qps per instance at 0.8 -> 5 replicas
    assert compute_resource_cost(2.0, 1, 10, 1_000_000, 0.8, peak_to_mean=3.0) == pytest.approx(
        5 * 24 * 2.0
    )


def test_storage_must_fit_the_medium():
    with pytest.raises(ValueError, match=r"model_size x copies must fit storage_size"):
        model_storage_cost([1, 5], [2, 4])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data_cost(-1, 1, 0.5), r"data_acq_cost must be finite and >= 0"),
        (lambda: data_cost(1, 1, 0), r"data_acq_efficiency must be finite and > 0"),
        (lambda: data_cost(1, 1, 1.5), r"data_acq_efficiency must be <= 1"),
        (lambda: compute_resource_cost(1, 1, 0, 1, 0.9), r"compute_speed must be finite and > 0"),
        (lambda: human_cost(float("nan")), r"human_cost must be finite"),
        (lambda: multi_model_fusion_cost(1, 2), r"complexity F\) must be <= 1"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
