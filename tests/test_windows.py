"""Sliding windows over texts longer than the model (easytx.windows and its users).

The first part tests the numpy-only module (pooling, which window predicts each token, option
checks) without TensorFlow; the rest tokenizes with the tiny models and predicts with the
trained tiny keyword classifier (tests/conftest.py ``trained``).
"""

from __future__ import annotations

import numpy as np
import pytest

from easytx.errors import ConfigError, EasytxError
from easytx.windows import (
    check_stride,
    check_window_pooling,
    check_windows,
    gather_tokens,
    pool_rows,
    resolve_stride,
    token_plan,
)


# ------------------------------------------------------------------------------ pooling (no TF)
def test_pool_rows_mean_and_max_per_text_in_any_row_order():
    values = np.array([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4], [0.5, 0.5]])
    index = np.array([0, 1, 0, 0])  # text 0's windows are rows 0, 2 and 3
    np.testing.assert_allclose(pool_rows(values, index, 2), [[13 / 30, 17 / 30], [0.9, 0.1]])
    np.testing.assert_allclose(pool_rows(values, index, 2, "max"), [[0.6, 0.8], [0.9, 0.1]])


def test_pool_rows_keeps_trailing_dimensions_and_refuses_uncovered_texts():
    values = np.arange(12, dtype=float).reshape(3, 2, 2)
    pooled = pool_rows(values, np.array([1, 0, 1]), 2)
    assert pooled.shape == (2, 2, 2)
    np.testing.assert_allclose(pooled[1], (values[0] + values[2]) / 2)
    with pytest.raises(EasytxError, match="do not cover"):
        pool_rows(values, np.array([0, 0, 2]), 3)


def test_classification_max_pooling_rows_sum_to_one():
    from easytx.tasks import Classification, Regression

    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    pooled = Classification().pool_windows(proba, np.array([0, 0, 1]), 2, "max")
    np.testing.assert_allclose(pooled, [[0.9 / 1.6, 0.7 / 1.6], [0.5, 0.5]])
    values = np.array([[1.0], [3.0], [10.0]])
    np.testing.assert_allclose(Regression().pool_windows(values, np.array([0, 0, 1]), 2), [[2.0], [10.0]])


def test_token_plan_takes_each_token_from_the_window_with_most_context():
    # a 10-token text in windows of 4 text tokens sharing 2: starts 0, 2, 4, 6
    word_ids = [[None, *range(s, s + 4), None] for s in (0, 2, 4, 6)]
    plan, ids = token_plan(word_ids, [0, 1, 2, 3], 2)
    assert ids == [None, *range(10), None]
    # text token t lies at position t - start + 1 of its window; the text's own ends are no edge,
    # so tokens 0-1 come from the first window and 8-9 from the last; inside, a token at a window
    # edge (distance 0) loses to the window where it has a neighbour on each side
    chosen = [row for row, _ in plan[1:-1]]
    assert chosen == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert plan[0] == (0, 0) and plan[-1] == (3, 5)
    for (row, position), token in zip(plan[1:-1], range(10)):
        assert word_ids[row][position] == token


def test_token_plan_of_one_window_is_the_window_itself():
    plan, ids = token_plan([[None, 0, 0, 1, None]], [0], 3)
    assert plan == [(0, p) for p in range(5)] and ids == [None, 0, 0, 1, None]


def test_token_plan_checks_the_shared_tokens():
    word_ids = [[None, 0, 1, 2, None], [None, 1, 2, 3, None]]
    ids_ok = [[2, 10, 11, 12, 3], [2, 11, 12, 13, 3]]
    token_plan(word_ids, [0, 1], 2, input_ids=ids_ok)
    with pytest.raises(EasytxError, match="share 2 tokens"):
        token_plan(word_ids, [0, 1], 2, input_ids=[[2, 10, 11, 12, 3], [2, 99, 12, 13, 3]])


def test_gather_tokens_pads_texts_to_the_longest():
    values = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    out = gather_tokens(values, [[(0, 0), (1, 3)], [(1, 1)]])
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0], values[[0, 1], [0, 3]])
    np.testing.assert_array_equal(out[1], [values[1, 1], np.zeros(3)])


def test_option_checks_say_what_was_received():
    assert check_windows(False) is False and check_stride(None) is None and check_stride(0) == 0
    assert check_window_pooling("max") == "max"
    with pytest.raises(ConfigError, match="windows='yes'"):
        check_windows("yes")
    with pytest.raises(ConfigError, match="stride=-1"):
        check_stride(-1)
    with pytest.raises(ConfigError, match="window_pooling='median'"):
        check_window_pooling("median")


def test_resolve_stride_default_and_limits():
    assert resolve_stride(None, 512, 2) == 128
    assert resolve_stride(None, 8, 6) == 1  # the default stays below the 2 text tokens a window holds
    with pytest.raises(ConfigError, match="smaller than the 30 text tokens"):
        resolve_stride(30, 32, 2)
    with pytest.raises(ConfigError, match="too few for sliding windows"):
        resolve_stride(None, 8, 7)
