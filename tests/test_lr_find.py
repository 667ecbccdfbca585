"""The learning-rate finder: its rules on synthetic curves (pure functions, no TensorFlow) and
``Learner.lr_find`` on a tiny model with fewer batches than the sweep needs."""

from __future__ import annotations

import doctest
import logging
import math

import numpy as np
import pytest

import easytx
from easytx import lr_rules, text
from easytx.errors import ConfigError

# ---------------------------------------------------------------------------- synthetic curves


def _sweep(n=100, start=1e-7, end=10.0):
    return list(np.geomspace(start, end, n))


def _curve(lrs, top=1e-5, bottom=1e-2, noise=0.0, seed=0):
    """Flat (0.69) below ``top``, a smooth fall to 0.09 at ``bottom``, then a blow-up."""
    rng = np.random.default_rng(seed)
    out = []
    for lr in lrs:
        x = (math.log(lr) - math.log(top)) / (math.log(bottom) - math.log(top))
        if x <= 0:
            loss = 0.69
        elif x <= 1:
            loss = 0.39 + 0.3 * math.cos(math.pi * x)
        else:
            loss = 0.09 * math.exp(6 * (x - 1))
        out.append(loss * (1 + noise * rng.standard_normal()))
    return out


def test_the_rules_module_examples_hold():
    result = doctest.testmod(lr_rules, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


def test_smoothing_is_bias_corrected():
    raw = [2.0, 1.0, 1.5, 0.5]
    smoothed = lr_rules.smooth(raw, beta=0.9)
    assert smoothed[0] == pytest.approx(2.0)  # uncorrected it would be 0.2
    avg, expected = 0.0, []
    for t, value in enumerate(raw, start=1):
        avg = 0.9 * avg + 0.1 * value
        expected.append(avg / (1 - 0.9**t))
    np.testing.assert_allclose(smoothed, expected)
    assert lr_rules.smooth([0.7] * 50) == pytest.approx([0.7] * 50)
    with pytest.raises(ConfigError, match="beta=1"):
        lr_rules.LossSmoother(beta=1)


def test_longest_valley_steps_over_a_bump_and_prefers_the_longer_valley():
    # a short valley (3 points), a bump, then a long noisy one
    losses = [1.0, 0.8, 0.6, 2.0, 1.9, 1.7, 1.8, 1.5, 1.2, 1.25, 0.9, 0.4, 3.0]
    assert lr_rules.longest_valley(losses) == (3, 11)
    assert lr_rules.longest_valley([0.5, 0.6, 0.7]) == (0, 0)  # never falls
    assert lr_rules.longest_valley([0.7, 0.7, 0.7, 0.69, 0.2]) == (2, 4)  # starts where it falls


@pytest.mark.parametrize("top, bottom", [(1e-5, 1e-2), (1e-6, 1e-4), (3e-4, 3e-1)])
def test_valley_is_two_thirds_down_the_fall(top, bottom):
    lrs = _sweep()
    found = lr_rules.valley(lrs, _curve(lrs, top, bottom))
    expected = top * (bottom / top) ** (2 / 3)
    step = lrs[1] / lrs[0]
    assert expected / step <= found <= expected * step
    assert lr_rules.valley(lrs, _curve(lrs, top, bottom), position=0.0) == pytest.approx(top, rel=step - 1)


@pytest.mark.parametrize("seed", range(5))
def test_valley_on_a_noisy_smoothed_curve_stays_in_the_fall(seed):
    lrs = _sweep()
    losses = lr_rules.smooth(_curve(lrs, 1e-5, 1e-2, noise=0.05, seed=seed))
    found = lr_rules.suggest(lrs, losses)["valley"]
    assert 1e-5 < found < 1e-2  # inside the fall, not on the flat part, not past the minimum


@pytest.mark.parametrize("seed", range(5))
def test_suggestions_never_leave_the_swept_range(seed):
    rng = np.random.default_rng(seed)
    lrs = _sweep(40, start=1e-6, end=1e-2)
    for losses in (
        list(np.linspace(0.5, 1.5, 40)),  # rising from the first step: lowest at the start
        list(np.linspace(1.5, 0.5, 40)),  # still falling at the end
        list(rng.uniform(0.2, 1.0, 40)),  # noise
    ):
        found = lr_rules.suggest(lrs, losses)
        assert set(found) == {"valley", "min_loss", "min_div10", "min_div5", "steepest"}
        for name, lr in found.items():
            assert lrs[0] <= lr <= lrs[-1], (name, lr)
    # the reported case: lowest loss at the first point, min/10 would be below the sweep
    assert lr_rules.suggest(lrs, list(np.linspace(0.5, 1.5, 40)))["min_div10"] == lrs[0]
    assert lr_rules.suggest(lrs, list(np.linspace(0.5, 1.5, 40)))["min_div5"] == lrs[0]


def _measured_shape(lrs):
    """A smoothed sweep shaped like those of benchmarks/lr_find_sweeps (10 batches, MiniLM).

    The loss drifts down by 0.001 across the flat start (0.694 at 1e-7, 0.693 at 1e-4), falls to
    0.64 at 1.6e-3 and then blows up.
    """
    out = []
    for lr in lrs:
        if lr < 1e-4:
            loss = 0.694 - 0.001 * math.log(lr / 1e-7) / math.log(1e3)
        elif lr <= 1.6e-3:
            x = math.log(lr / 1e-4) / math.log(16)
            loss = 0.6665 + 0.0265 * math.cos(math.pi * x)
        else:
            loss = 0.64 * (lr / 1.6e-3) ** 0.5
        out.append(loss)
    return out


def test_min_div5_is_within_3x_of_the_measured_best_where_the_valley_is_not():
    # benchmarks/lr_rules_eval.py: on SST-2, TREC and AG News the best one-cycle rate of the
    # grid was 5e-4, the sweeps' lowest loss at 1.3e-3 to 2.8e-3
    lrs = _sweep()[:83]  # stopped on divergence at 0.42, as the SST-2 sweep
    found = lr_rules.suggest(lrs, _measured_shape(lrs))
    assert found["min_loss"] == pytest.approx(1.59e-3, rel=0.01)
    assert found["min_div5"] == pytest.approx(found["min_loss"] / 5)
    assert 5e-4 / 3 <= found["min_div5"] <= 5e-4 * 3
    assert found["min_div5"] == pytest.approx(3.18e-4, rel=0.01)
    # the drift makes the valley start on the flat part: two thirds along it is far too low
    assert found["valley"] < 5e-4 / 3
    assert lr_rules.longest_valley(_measured_shape(lrs)[10:78])[0] == 0


def test_trusted_span_drops_the_noisy_start_and_the_blow_up():
    assert lr_rules.trusted_span(100) == (10, 95)
    assert lr_rules.trusted_span(30) == (3, 27)
    assert lr_rules.trusted_span(4) == (0, 4)


def test_bad_sweeps_are_refused_with_what_was_received():
    with pytest.raises(ConfigError, match=r"\(3,\) learning rates and \(2,\) losses"):
        lr_rules.valley([1e-5, 1e-4, 1e-3], [0.5, 0.4])
    with pytest.raises(ConfigError, match="increasing"):
        lr_rules.suggest([1e-3, 1e-4, 1e-5], [0.5, 0.4, 0.3])
    with pytest.raises(ConfigError, match="position=1.5"):
        lr_rules.valley([1e-5, 1e-4], [0.5, 0.4], position=1.5)


# ---------------------------------------------------------------------------- Learner.lr_find


@pytest.fixture(scope="module")
def ten_batch_learner(tiny_bert, small_data):
    """160 training texts in batches of 16: 10 batches, fewer than any sweep below."""
    train, _ = small_data
    t = text.Transformer(tiny_bert, maxlen="auto")
    trn = t.preprocess_train(train)
    learner = easytx.get_learner(t.get_classifier(seed=0), train_data=trn, batch_size=16, seed=0)
    assert learner.steps_per_epoch == 10
    return learner


@pytest.mark.integration
def test_lr_find_sweeps_num_steps_on_fewer_batches_and_restores_the_model(ten_batch_learner, caplog):
    learner = ten_batch_learner
    before = [w.copy() for w in learner.model.get_weights()]
    iterations = int(learner.model.optimizer.iterations.numpy())
    with caplog.at_level(logging.WARNING, logger="easytx.learner"):
        # max_epochs=1 used to cut this sweep to the 10 batches of one pass
        result = learner.lr_find(1e-6, 1e-3, num_steps=60, max_epochs=1, verbose=0)
    assert "no longer shortens the sweep" in caplog.text
    assert "fewer than 50" not in caplog.text
    assert len(result.lrs) == len(result.losses) == 60
    assert result.lrs[0] == pytest.approx(1e-6) and result.lrs[-1] == pytest.approx(1e-3)
    np.testing.assert_allclose(np.diff(np.log(result.lrs)), math.log(1e3) / 59, rtol=1e-6)
    for name in ("valley", "min_loss", "min_div10", "min_div5", "steepest"):
        assert result.lrs[0] <= getattr(result, name) <= result.lrs[-1], name
    assert result == learner.lr_finder_ and "valley=" in repr(result) and "min_div5=" in repr(result)
    assert all(np.array_equal(a, b) for a, b in zip(before, learner.model.get_weights()))
    assert int(learner.model.optimizer.iterations.numpy()) == iterations


def test_lr_find_warns_below_50_steps(ten_batch_learner, caplog):
    with caplog.at_level(logging.WARNING, logger="easytx.learner"):
        result = ten_batch_learner.lr_find(1e-6, 1e-3, num_steps=12, verbose=0)
    assert "lr_find(num_steps=12) sweeps fewer than 50 batches" in caplog.text
    assert len(result.lrs) == 12
