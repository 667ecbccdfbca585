"""The learning-rate finder's rules: pure functions from a sweep to a suggested learning rate.

:meth:`easytx.Learner.lr_find` trains for ``num_steps`` batches while the learning rate grows
geometrically, and records the loss of every batch. What it suggests comes from the functions
here, which take plain lists (the learning rates and the smoothed losses, in sweep order) and
import no TensorFlow, so they can be tried on any curve:

* :func:`smooth`: exponential moving average of the batch losses with bias correction
  (``beta=0.98``, as fastai), so the first points are not pulled towards zero;
* :func:`min_div5` (the default suggestion): a fifth of the rate at the lowest loss, the one rule
  of those measured (``benchmarks/lr_rules_eval.py``) within 2x of the best one-cycle rate on
  three data sets with two sweeps each, and below it, away from the rates where training breaks;
* :func:`valley` (fastai's rule): the longest valley of the curve (:func:`longest_valley`,
  the longest run of points along which the loss keeps falling, a bump may be stepped over),
  and the point two thirds of the way down it;
* :func:`min_loss`, :func:`min_div10` (a tenth of the rate at the lowest loss, ktrain's rule of
  thumb) and :func:`steepest` (where the loss falls fastest);
* :func:`suggest`: all of them on the trusted part of a sweep (:func:`trusted_span`), each clipped
  to the swept range, so that no rule suggests a rate the sweep never tried.

A sweep from 1e-7 with ten points a decade, where the loss is flat up to 1e-5, falls to 1e-2
(fastest around 3e-4) and then blows up:

>>> import math
>>> lrs = [10 ** (-7 + i / 10) for i in range(61)]
>>> fall = [0.39 + 0.3 * math.cos(math.pi * k / 30) for k in range(1, 31)]
>>> losses = [0.69] * 21 + fall + [0.09 * 1.5**k for k in range(1, 11)]
>>> found = suggest(lrs, losses)
>>> {name: f"{found[name]:.1e}" for name in ("min_div5", "valley", "min_div10", "steepest")}
{'min_div5': '2.0e-03', 'valley': '1.0e-03', 'min_div10': '1.0e-03', 'steepest': '3.2e-04'}
>>> f"{found['min_loss']:.1e}"
'1.0e-02'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import ConfigError

__all__ = [
    "LossSmoother",
    "smooth",
    "trusted_span",
    "longest_valley",
    "valley",
    "min_loss",
    "min_div10",
    "min_div5",
    "steepest",
    "clip_to_sweep",
    "suggest",
]

#: a sweep shorter than this gives coarse suggestions (lr_find warns)
MIN_STEPS = 50
#: where :func:`valley` picks its point, as a fraction of the valley's length (0: top, 1: bottom)
VALLEY_POSITION = 2 / 3


class LossSmoother:
    """Exponential moving average of a stream of losses, bias-corrected.

    ``smoothed_t = avg_t / (1 - beta**t)`` with ``avg_t = beta * avg_{t-1} + (1 - beta) * loss_t``:
    without the correction the average starts at zero and the first points of a sweep would look
    like a very low loss.

    >>> s = LossSmoother(beta=0.5)
    >>> s(1.0), s(1.0), round(s(4.0), 4)
    (1.0, 1.0, 2.7143)
    """

    def __init__(self, beta: float = 0.98):
        if not (isinstance(beta, (int, float)) and 0.0 <= beta < 1.0):
            raise ConfigError(f"`beta` must lie in [0, 1). Received: beta={beta!r}")
        self.beta = float(beta)
        self._avg = 0.0
        self._count = 0

    def __call__(self, loss: float) -> float:
        self._count += 1
        self._avg = self.beta * self._avg + (1.0 - self.beta) * float(loss)
        return self._avg / (1.0 - self.beta**self._count)


def smooth(losses: Sequence[float], beta: float = 0.98) -> list:
    """The bias-corrected exponential moving average of ``losses`` (see :class:`LossSmoother`).

    >>> tuple(round(x, 4) for x in smooth((2.0, 1.0, 1.0), beta=0.5))
    (2.0, 1.3333, 1.1429)
    """
    smoother = LossSmoother(beta)
    return [smoother(loss) for loss in losses]


def trusted_span(n: int) -> tuple[int, int]:
    """The part ``[start, stop)`` of an ``n``-point sweep that the rules read.

    The first tenth is left out (the smoothed loss still averages only a few batches there) and
    so are up to 5 last points (where a sweep stopped on divergence, the loss is blowing up), as
    fastai does. Sweeps too short to lose them keep every point.

    >>> trusted_span(100), trusted_span(20), trusted_span(6)
    ((10, 95), (2, 18), (0, 6))
    """
    skip = n // 10
    start, stop = skip, n - min(5, skip)
    return (start, stop) if stop - start >= 3 else (0, n)


def _check_sweep(lrs: Sequence[float], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    lrs_a = np.asarray(lrs, dtype=float)
    losses_a = np.asarray(losses, dtype=float)
    if lrs_a.ndim != 1 or lrs_a.shape != losses_a.shape or len(lrs_a) == 0:
        raise ConfigError(
            "A learning-rate sweep needs two lists of the same non-zero length (learning rates and "
            f"losses). Received: {lrs_a.shape} learning rates and {losses_a.shape} losses."
        )
    if not np.all(np.isfinite(lrs_a)) or np.any(lrs_a <= 0) or np.any(np.diff(lrs_a) <= 0):
        raise ConfigError(
            "The learning rates of a sweep must be positive, finite and increasing. Received: "
            f"{lrs_a[:5].tolist()}{' ...' if len(lrs_a) > 5 else ''}"
        )
    if not np.all(np.isfinite(losses_a)):
        raise ConfigError("The losses of a sweep must be finite; leave out the points after a NaN.")
    return lrs_a, losses_a


def longest_valley(losses: Sequence[float]) -> tuple[int, int]:
    """First and last index of the longest valley of a loss curve.

    The valley is the longest chain of points, in sweep order, each lower than the one before
    (a longest decreasing subsequence): points of a bump in between are stepped over, so a little
    noise on the way down does not cut the valley in two. Among chains of the same length the one
    that ends first wins, and for that end the one that starts last (on a flat stretch, equal
    losses, the valley starts where the loss begins to fall). A curve that never falls has
    valleys of one point; the first is returned.

    >>> longest_valley([3.0, 2.0, 2.5, 1.0, 0.5, 4.0])
    (0, 4)
    >>> longest_valley([0.7, 0.7, 0.7, 0.5, 0.3, 0.9])
    (2, 4)
    """
    values = np.asarray(losses, dtype=float)
    n = len(values)
    length = np.ones(n, dtype=int)
    first = np.arange(n)
    for i in range(1, n):
        higher = np.flatnonzero(values[:i] > values[i])  # points this one can follow
        if len(higher):
            best = length[higher].max()
            length[i] = best + 1
            first[i] = first[higher[length[higher] == best]].max()
    end = int(np.argmax(length))
    return int(first[end]), end


def valley(lrs: Sequence[float], losses: Sequence[float], *, position: float = VALLEY_POSITION) -> float:
    """The learning rate ``position`` of the way down the longest valley (fastai's ``valley``).

    Parameters
    ----------
    lrs, losses : sequence of float
        The sweep: increasing learning rates and the smoothed loss at each.
    position : float
        Where in the valley, from 0 (its top, the lowest rate) to 1 (its bottom). The default,
        two thirds, sits where the loss still falls fast, well below the rate where it turns up.

    Returns
    -------
    float
        One of ``lrs`` (on a geometric sweep the position is a position on the log axis).

    Examples
    --------
    >>> lrs = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    >>> valley(lrs, [1.0, 0.9, 0.5, 0.2, 3.0])
    0.001
    """
    if not (isinstance(position, (int, float)) and 0.0 <= position <= 1.0):
        raise ConfigError(f"`position` must lie in [0, 1]. Received: position={position!r}")
    lrs_a, losses_a = _check_sweep(lrs, losses)
    start, end = longest_valley(losses_a)
    return float(lrs_a[start + int(round(position * (end - start)))])


def min_loss(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """The learning rate at the lowest loss.

    >>> min_loss([1e-4, 1e-3, 1e-2], [0.5, 0.2, 0.9])
    0.001
    """
    lrs_a, losses_a = _check_sweep(lrs, losses)
    return float(lrs_a[int(np.argmin(losses_a))])


def min_div10(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """A tenth of the rate at the lowest loss, never below the first rate swept.

    >>> min_div10([1e-4, 1e-3, 1e-2], [0.5, 0.2, 0.9])
    0.0001
    >>> min_div10([1e-4, 1e-3, 1e-2], [0.1, 0.2, 0.9])  # lowest at the start: not 1e-5
    0.0001
    """
    return max(min_loss(lrs, losses) / 10.0, float(lrs[0]))


def min_div5(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """A fifth of the rate at the lowest loss, never below the first rate swept (the default).

    Measured with all-MiniLM-L6-v2 on 10 batches of SST-2, TREC and AG News
    (``benchmarks/lr_find.py``, ``benchmarks/lr_rules_eval.py``), two sweeps each: 0.53x to 1.1x
    the best rate of a one-cycle grid (2 epochs), where :func:`valley` gave 0.20x to 0.41x and
    ``min_loss / 3`` or :func:`steepest` up to 1.9x and 2.6x, next to rates (2x to 4x the best)
    at which training collapsed to chance.

    Parameters
    ----------
    lrs, losses : sequence of float
        The sweep: increasing learning rates and the smoothed loss at each.

    Returns
    -------
    float
        ``min_loss(lrs, losses) / 5``, or ``lrs[0]`` where that is lower.

    Examples
    --------
    >>> min_div5([1e-4, 1e-3, 1e-2], [0.5, 0.2, 0.9])
    0.0002
    >>> min_div5([1e-4, 1e-3, 1e-2], [0.1, 0.2, 0.9])  # lowest at the start: not 2e-5
    0.0001
    """
    return max(min_loss(lrs, losses) / 5.0, float(lrs[0]))


def steepest(lrs: Sequence[float], losses: Sequence[float]) -> float:
    """Where the loss falls fastest against the log learning rate, before its minimum.

    >>> steepest([1e-5, 1e-4, 1e-3, 1e-2, 1e-1], [1.0, 0.9, 0.5, 0.45, 2.0])
    0.0001
    """
    lrs_a, losses_a = _check_sweep(lrs, losses)
    stop = int(np.argmin(losses_a))
    if stop < 1:
        return float(lrs_a[0])
    slopes = np.gradient(losses_a[: stop + 1], np.log(lrs_a[: stop + 1]))
    return float(lrs_a[int(np.argmin(slopes[:stop]))])


def clip_to_sweep(lr: float, lrs: Sequence[float]) -> float:
    """``lr`` moved into ``[lrs[0], lrs[-1]]``, the range a sweep actually tried.

    >>> clip_to_sweep(1e-9, [1e-7, 1e-3]), clip_to_sweep(5e-5, [1e-7, 1e-3])
    (1e-07, 5e-05)
    """
    return float(min(max(lr, lrs[0]), lrs[-1]))


def suggest(lrs: Sequence[float], losses: Sequence[float]) -> dict:
    """Every rule's suggestion for a whole sweep, read on its :func:`trusted_span`.

    Parameters
    ----------
    lrs, losses : sequence of float
        The whole sweep, as recorded (increasing rates, smoothed losses).

    Returns
    -------
    dict
        ``valley``, ``min_loss``, ``min_div10``, ``min_div5`` and ``steepest``, each inside
        ``[lrs[0], lrs[-1]]``.

    Examples
    --------
    >>> lrs = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
    >>> suggest(lrs, [0.5, 0.6, 0.7, 0.8, 0.9])  # never falls: nothing below the first rate
    {'valley': 1e-06, 'min_loss': 1e-06, 'min_div10': 1e-06, 'min_div5': 1e-06, 'steepest': 1e-06}
    """
    lrs_a, losses_a = _check_sweep(lrs, losses)
    start, stop = trusted_span(len(lrs_a))
    part_lrs, part_losses = lrs_a[start:stop], losses_a[start:stop]
    lowest = min_loss(part_lrs, part_losses)
    found = {
        "valley": valley(part_lrs, part_losses),
        "min_loss": lowest,
        "min_div10": lowest / 10.0,  # these two clipped below to the start of the whole sweep
        "min_div5": lowest / 5.0,
        "steepest": steepest(part_lrs, part_losses),
    }
    return {name: clip_to_sweep(lr, lrs_a) for name, lr in found.items()}
