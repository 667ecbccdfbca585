import numpy as np
import pytest

from easytx import schedules
from easytx.errors import ConfigError


def test_one_cycle_shape_lr_up_then_down_momentum_opposite():
    steps = schedules.simulate(
        lambda p: schedules.one_cycle(p, max_lr=1e-3, pct_start=0.3, moms=(0.95, 0.85)), 101
    )
    lrs = np.array([s[0] for s in steps])
    moms = np.array([s[1] for s in steps])
    peak = int(np.argmax(lrs))
    assert peak == 30
    assert lrs[0] == pytest.approx(1e-3 / 25)
    assert lrs[-1] == pytest.approx(1e-3 / 1e4)
    assert np.all(np.diff(lrs[: peak + 1]) > 0) and np.all(np.diff(lrs[peak:]) < 0)
    assert moms[0] == pytest.approx(0.95) and moms[peak] == pytest.approx(0.85)
    assert moms[-1] == pytest.approx(0.95)
    # momentum moves opposite to the learning rate at every step
    assert np.all(np.sign(np.diff(lrs)) == -np.sign(np.diff(moms)))


def test_one_cycle_rejects_bad_options():
    with pytest.raises(ConfigError, match="lr"):
        schedules.one_cycle(0.1, max_lr=0)
    with pytest.raises(ConfigError, match="pct_start"):
        schedules.one_cycle(0.1, max_lr=1e-3, pct_start=1.5)
    with pytest.raises(ConfigError, match="progress"):
        schedules.one_cycle(1.5, max_lr=1e-3)


def test_triangular_and_sgdr():
    assert schedules.triangular(0.0, max_lr=1.0)[0] == pytest.approx(0.1)
    assert schedules.triangular(0.5, max_lr=1.0)[0] == pytest.approx(1.0)
    values = schedules.simulate(lambda p: schedules.sgdr(p, max_lr=1.0, n_cycles=2), 9)
    # two cosine cycles: restarts at the middle
    assert values[0] == pytest.approx(1.0) and values[4] == pytest.approx(1.0)
    assert values[3] < 0.2 and values[8] == pytest.approx(0.0)


def test_exponential_is_geometric():
    mid = schedules.exponential(0.5, 1e-6, 1e-2)
    assert mid == pytest.approx(1e-4)
    with pytest.raises(ConfigError):
        schedules.exponential(0.5, 0.0, 1.0)
