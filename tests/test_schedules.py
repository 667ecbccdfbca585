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


def test_triangular_one_cycle_is_ktrains_fit_onecycle():
    # 8 batches: ktrain's CyclicLR with step_size ceil(8/2) = 4, checked against ktrain 0.41.4
    n, lr = 8, 1e-3
    steps = [schedules.triangular_one_cycle(i / n, max_lr=lr, total_steps=n) for i in range(n)]
    lrs = [s[0] for s in steps]
    moms = [s[1] for s in steps]
    # start at lr/10, straight up to lr at batch 4
    assert lrs[0] == pytest.approx(lr / 10)
    assert lrs[2] == pytest.approx(lr / 10 + (lr - lr / 10) * 2 / 4)
    assert lrs[4] == pytest.approx(lr) and max(lrs) == lrs[4]
    # then straight down towards lr/1000: the last batch is one step above it
    end = lr / 1000
    assert lrs[5] == pytest.approx(end + (lr - end) * 3 / 4)
    assert lrs[-1] == pytest.approx(end + (lr - end) / 4)
    assert schedules.triangular_one_cycle(1.0, max_lr=lr, total_steps=n)[0] == pytest.approx(end)
    # momentum: one batch ahead of the lr, 0.85 at batch 3, back to 0.95 on the last batch
    assert moms == pytest.approx([0.925, 0.9, 0.875, 0.85, 0.875, 0.9, 0.925, 0.95])


def test_triangular_one_cycle_odd_lengths_and_options():
    # 5 batches: half = 3, so the peak is batch 3 and the descent uses the same slope
    lrs = [schedules.triangular_one_cycle(i / 5, max_lr=1.0, total_steps=5)[0] for i in range(5)]
    assert lrs == pytest.approx([0.1, 0.4, 0.7, 1.0, 0.001 + 0.999 * (2 - 4 / 3)])
    # a single batch never reaches the peak (nor does ktrain's)
    assert schedules.triangular_one_cycle(0.0, max_lr=1.0, total_steps=1)[0] == pytest.approx(0.1)
    assert schedules.triangular_one_cycle(0.5, max_lr=1.0, total_steps=4, moms=None)[1] is None
    with pytest.raises(ConfigError, match="total_steps=0"):
        schedules.triangular_one_cycle(0.0, max_lr=1.0, total_steps=0)
    with pytest.raises(ConfigError, match="lr=-1"):
        schedules.triangular_one_cycle(0.0, max_lr=-1, total_steps=4)


def test_exponential_is_geometric():
    mid = schedules.exponential(0.5, 1e-6, 1e-2)
    assert mid == pytest.approx(1e-4)
    with pytest.raises(ConfigError):
        schedules.exponential(0.5, 0.0, 1.0)
