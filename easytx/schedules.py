"""Learning-rate and momentum schedules as pure functions of training progress.

A schedule maps ``progress`` in ``[0, 1]`` (fraction of the run done) to a value. Nothing here
imports TensorFlow, so every schedule can be simulated and plotted without training (see
:func:`simulate`). The callbacks in :mod:`easytx.callbacks` evaluate them once per batch.

The one-cycle policy (:func:`one_cycle`), exactly:

* warm-up, ``progress < pct_start``: the learning rate rises from ``max_lr / div_factor`` to
  ``max_lr`` along a half cosine, while Adam's ``beta_1`` (momentum) falls from ``moms[0]`` to
  ``moms[1]`` along the same curve;
* annealing, ``progress >= pct_start``: the learning rate falls from ``max_lr`` to
  ``max_lr / final_div_factor`` along a half cosine, while ``beta_1`` climbs back to ``moms[0]``.

ktrain's one cycle (:func:`triangular_one_cycle`, the schedule of ``easytx.ktrain``'s
``fit_onecycle``) is made of straight lines instead: ``max_lr / 10`` up to ``max_lr`` over the first
half of the batches, then down towards ``max_lr / 1000``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .errors import ConfigError

__all__ = [
    "cosine",
    "linear",
    "exponential",
    "one_cycle",
    "triangular",
    "triangular_one_cycle",
    "sgdr",
    "simulate",
]


def _check_progress(progress: float) -> float:
    if not 0.0 <= progress <= 1.0:
        raise ConfigError(f"`progress` must lie in [0, 1]. Received: progress={progress!r}")
    return float(progress)


def cosine(progress: float, start: float, end: float) -> float:
    """Half-cosine interpolation from ``start`` (progress 0) to ``end`` (progress 1).

    >>> cosine(0.5, 0.0, 2.0)
    1.0
    """
    p = _check_progress(progress)
    return end + (start - end) * (1.0 + math.cos(math.pi * p)) / 2.0


def linear(progress: float, start: float, end: float) -> float:
    """Straight line from ``start`` to ``end``.

    >>> linear(0.25, 0.0, 4.0)
    1.0
    """
    p = _check_progress(progress)
    return start + (end - start) * p


def exponential(progress: float, start: float, end: float) -> float:
    """Geometric interpolation (a straight line on a log axis), used by the learning-rate finder.

    >>> round(exponential(0.5, 1e-6, 1e-2), 10)
    0.0001
    """
    p = _check_progress(progress)
    if start <= 0 or end <= 0:
        raise ConfigError(f"exponential schedules need positive ends. Received: start={start}, end={end}")
    return start * (end / start) ** p


def _check_one_cycle(max_lr, pct_start, div_factor, final_div_factor, moms):
    if not (isinstance(max_lr, (int, float)) and max_lr > 0 and math.isfinite(max_lr)):
        raise ConfigError(
            f"`lr` must be a positive number. Received: lr={max_lr!r}. Typical fine-tuning "
            "values are 2e-5 to 1e-4; learner.lr_find() suggests one."
        )
    if not 0.0 <= pct_start < 1.0:
        raise ConfigError(f"`pct_start` must lie in [0, 1). Received: pct_start={pct_start!r}")
    if div_factor < 1 or final_div_factor < 1:
        raise ConfigError(
            "`div_factor` and `final_div_factor` must be >= 1. "
            f"Received: div_factor={div_factor!r}, final_div_factor={final_div_factor!r}"
        )
    if moms is not None and (len(moms) != 2 or not all(0.0 <= m < 1.0 for m in moms)):
        raise ConfigError(f"`moms` must be two values in [0, 1). Received: moms={moms!r}")


def one_cycle(
    progress: float,
    *,
    max_lr: float,
    pct_start: float = 0.25,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    moms: tuple[float, float] | None = (0.95, 0.85),
) -> tuple[float, float | None]:
    """Learning rate and momentum of the one-cycle policy at ``progress``.

    Parameters
    ----------
    progress : float
        Fraction of training done, in ``[0, 1]``.
    max_lr : float
        Peak learning rate (reached at ``progress == pct_start``).
    pct_start : float
        Fraction of the run spent warming up.
    div_factor : float
        The run starts at ``max_lr / div_factor``.
    final_div_factor : float
        The run ends at ``max_lr / final_div_factor``.
    moms : tuple of float or None
        ``(high, low)`` Adam ``beta_1`` values; momentum moves opposite to the learning rate.
        ``None`` leaves momentum alone.

    Returns
    -------
    (lr, momentum) : tuple
        ``momentum`` is ``None`` when ``moms`` is ``None``.

    Examples
    --------
    >>> lr, mom = one_cycle(0.25, max_lr=1e-3, pct_start=0.25)
    >>> round(lr, 6), mom
    (0.001, 0.85)
    """
    _check_one_cycle(max_lr, pct_start, div_factor, final_div_factor, moms)
    p = _check_progress(progress)
    low_start, low_end = max_lr / div_factor, max_lr / final_div_factor
    if pct_start > 0 and p < pct_start:
        q = p / pct_start
        lr = cosine(q, low_start, max_lr)
        mom = None if moms is None else cosine(q, moms[0], moms[1])
    else:
        q = (p - pct_start) / (1.0 - pct_start)
        lr = cosine(min(q, 1.0), max_lr, low_end)
        mom = None if moms is None else cosine(min(q, 1.0), moms[1], moms[0])
    return lr, mom


def triangular(
    progress: float,
    *,
    max_lr: float,
    div_factor: float = 10.0,
    moms: tuple[float, float] | None = (0.95, 0.85),
) -> tuple[float, float | None]:
    """One triangle: linear rise from ``max_lr/div_factor`` to ``max_lr`` and back (one cycle).

    Used by :meth:`easytx.Learner.autofit`, one triangle per epoch, as ktrain does.

    >>> triangular(0.5, max_lr=1.0)
    (1.0, 0.85)
    """
    p = _check_progress(progress)
    base = max_lr / div_factor
    frac = 1.0 - abs(2.0 * p - 1.0)
    lr = base + (max_lr - base) * frac
    mom = None if moms is None else moms[0] + (moms[1] - moms[0]) * frac
    return lr, mom


def triangular_one_cycle(
    progress: float,
    *,
    max_lr: float,
    total_steps: int,
    div_factor: float = 10.0,
    final_div_factor: float = 1000.0,
    moms: tuple[float, float] | None = (0.95, 0.85),
) -> tuple[float, float | None]:
    """Learning rate and momentum of ktrain's ``fit_onecycle`` for the batch at ``progress``.

    ktrain runs its ``CyclicLR`` callback (``ktrain/lroptimize/triangular.py``) with
    ``base_lr=max_lr/10``, ``max_lr`` and ``step_size=ceil(total_steps / 2)`` over all epochs,
    and lowers ``base_lr`` to ``max_lr/1000`` once the peak is passed. For the batch
    ``step = round(progress * total_steps)`` (0-based), with ``half = ceil(total_steps / 2)``:

    * ``step <= half``: ``lr = low + (max_lr - low) * step / half``, ``low = max_lr / div_factor``
      (the first batch trains at ``max_lr / 10``, batch ``half`` at ``max_lr``);
    * ``step > half``: ``lr = end + (max_lr - end) * (2 - step / half)``,
      ``end = max_lr / final_div_factor`` (straight down; the last batch is one step above ``end``);
    * momentum (Adam's ``beta_1``), with ``k = step + 1`` (ktrain sets it one batch ahead of the
      learning rate): ``moms[1] + (moms[0] - moms[1]) * |k / half - 1|``, falling to ``moms[1]``
      at batch ``half - 1`` and climbing back towards ``moms[0]``. ktrain leaves the optimizer's
      own ``beta_1`` (Adam's 0.9) on the very first batch; here it is the formula's value
      (``k = 1``). From the second batch on, the values are ktrain's.

    With a single batch in the run, that batch trains at ``max_lr / 10`` (so does ktrain's).

    Parameters
    ----------
    progress : float
        Fraction of training done, in ``[0, 1]``: ``step / total_steps``.
    max_lr : float
        Peak learning rate, reached at batch ``ceil(total_steps / 2)``.
    total_steps : int
        Batches in the whole run (all epochs).
    div_factor : float
        The run starts at ``max_lr / div_factor`` (ktrain: 10).
    final_div_factor : float
        The second half falls towards ``max_lr / final_div_factor`` (ktrain: 1000).
    moms : tuple of float or None
        ``(high, low)`` Adam ``beta_1`` values; ``None`` leaves momentum alone.

    Returns
    -------
    (lr, momentum) : tuple
        ``momentum`` is ``None`` when ``moms`` is ``None``.

    Examples
    --------
    >>> [round(triangular_one_cycle(s / 4, max_lr=1.0, total_steps=4)[0], 4) for s in range(4)]
    [0.1, 0.55, 1.0, 0.5005]
    >>> [round(triangular_one_cycle(s / 4, max_lr=1.0, total_steps=4)[1], 3) for s in range(4)]
    [0.9, 0.85, 0.9, 0.95]
    """
    _check_one_cycle(max_lr, 0.0, div_factor, final_div_factor, moms)
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ConfigError(
            "`total_steps` must be a positive int (the batches in the run). "
            f"Received: total_steps={total_steps!r}"
        )
    step = round(_check_progress(progress) * total_steps)
    half = math.ceil(total_steps / 2)
    if step <= half:
        low = max_lr / div_factor
        lr = low + (max_lr - low) * step / half
    else:
        end = max_lr / final_div_factor
        lr = end + (max_lr - end) * max(0.0, 2.0 - step / half)
    mom = None
    if moms is not None:
        mom = moms[1] + (moms[0] - moms[1]) * min(1.0, abs((step + 1) / half - 1.0))
    return lr, mom


def sgdr(
    progress: float,
    *,
    max_lr: float,
    n_cycles: int,
    cycle_mult: int = 1,
    min_lr: float = 0.0,
) -> float:
    """Cosine annealing with warm restarts (SGDR); cycle ``i`` lasts ``cycle_mult**i`` units.

    >>> sgdr(0.0, max_lr=1.0, n_cycles=2), sgdr(0.5, max_lr=1.0, n_cycles=2)
    (1.0, 1.0)
    """
    p = _check_progress(progress)
    lengths = [cycle_mult**i for i in range(n_cycles)]
    total = float(sum(lengths))
    position = p * total
    for i, length in enumerate(lengths):
        if position < length or i == len(lengths) - 1:
            return cosine(min(position / length, 1.0), max_lr, min_lr)
        position -= length
    return min_lr  # pragma: no cover - the loop always returns


def simulate(schedule: Callable[[float], object], n_steps: int) -> list:
    """Evaluate ``schedule`` at the start of each of ``n_steps`` steps (like ``LRScheduler.simulate``).

    Examples
    --------
    >>> [round(v, 2) for v in simulate(lambda p: linear(p, 0.0, 1.0), 3)]
    [0.0, 0.5, 1.0]
    """
    if n_steps < 1:
        raise ConfigError(f"`n_steps` must be >= 1. Received: n_steps={n_steps}")
    if n_steps == 1:
        return [schedule(0.0)]
    return [schedule(i / (n_steps - 1)) for i in range(n_steps)]
