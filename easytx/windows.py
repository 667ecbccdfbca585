"""Sliding windows over texts longer than the model: options, pooling and token merging (numpy only).

A text longer than ``maxlen`` tokens is cut by the fast tokenizer itself
(``return_overflowing_tokens=True, stride=...``) into windows of ``maxlen`` tokens whose
consecutive windows share ``stride`` tokens. This module holds what happens around that call and
imports nothing but numpy:

- the options and their checks (:func:`check_windows`, :func:`check_stride`,
  :func:`check_window_pooling`, :func:`resolve_stride`);
- :func:`pool_rows`: one answer per text from its windows' answers (classification,
  multi-label, regression): the mean (default) or the maximum;
- :func:`token_plan`: for token classification, which window predicts each token of the text:
  the one where the token lies farthest from a window edge (a document's own start and end are
  not edges: nothing lies beyond them), so every word is read with the most context on both
  sides that any window gives it.

See ``docs/long-texts.md`` for what a user sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, EasytxError

__all__ = [
    "WINDOW_POOLINGS",
    "check_windows",
    "check_stride",
    "check_window_pooling",
    "default_stride",
    "resolve_stride",
    "pool_rows",
    "token_plan",
    "gather_tokens",
]

#: how the windows of a text become one answer: ``"mean"`` averages the windows' probabilities
#: (predicted values for regression); ``"max"`` takes each class's (label's, target's) largest
WINDOW_POOLINGS = ("mean", "max")


def check_windows(windows: Any, name: str = "windows") -> bool:
    """``windows`` if it is ``True`` or ``False``, else a :class:`ConfigError`."""
    if not isinstance(windows, bool):
        raise ConfigError(
            f"`{name}` must be True (texts longer than maxlen are read in sliding windows) or False "
            f"(they are truncated). Received: {name}={windows!r}"
        )
    return windows


def check_stride(stride: Any) -> int | None:
    """``stride`` if it is ``None`` (the default) or an int >= 0, else a :class:`ConfigError`."""
    if stride is None:
        return None
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 0:
        raise ConfigError(
            "`stride` (tokens shared by consecutive windows) must be None (maxlen // 4) or an int "
            f">= 0. Received: stride={stride!r}"
        )
    return int(stride)


def check_window_pooling(pooling: Any) -> str:
    """``pooling`` if it is one of :data:`WINDOW_POOLINGS`, else a :class:`ConfigError`."""
    if not isinstance(pooling, str) or pooling not in WINDOW_POOLINGS:
        raise ConfigError(
            f"`window_pooling` must be one of {list(WINDOW_POOLINGS)}. Received: "
            f"window_pooling={pooling!r}. 'mean' averages the windows' probabilities; 'max' keeps "
            "each class's largest."
        )
    return pooling


def default_stride(maxlen: int) -> int:
    """The default overlap of consecutive windows: a quarter of ``maxlen`` (128 tokens for 512).

    >>> default_stride(512), default_stride(48)
    (128, 12)
    """
    return int(maxlen) // 4


def resolve_stride(stride: int | None, maxlen: int, n_special: int) -> int:
    """The stride to use with windows of ``maxlen`` tokens, ``n_special`` of them special tokens.

    ``None`` gives :func:`default_stride`; a window must move forward, so the stride must be
    smaller than the ``maxlen - n_special`` text tokens a window holds.

    Raises
    ------
    ConfigError
        ``stride`` leaves the windows no room to move.

    >>> resolve_stride(None, 64, 2), resolve_stride(10, 64, 2)
    (16, 10)
    """
    capacity = int(maxlen) - int(n_special)
    value = default_stride(maxlen) if stride is None else int(stride)
    if capacity < 2:
        raise ConfigError(
            f"maxlen={maxlen} leaves {capacity} text token(s) per window next to {n_special} special "
            "tokens: too few for sliding windows. Pass windows=False, or a larger maxlen."
        )
    if value >= capacity:
        if stride is None:
            return capacity // 2
        raise ConfigError(
            f"`stride`={stride} must be smaller than the {capacity} text tokens a window of maxlen="
            f"{maxlen} holds ({n_special} are special tokens). Pass a smaller stride (the default is "
            "maxlen // 4)."
        )
    return value


def pool_rows(values: np.ndarray, text_index: np.ndarray, n_texts: int, how: str = "mean") -> np.ndarray:
    """One row per text from its windows' rows: their mean or their element-wise maximum.

    Parameters
    ----------
    values : numpy array, shape (n_windows, ...)
        The windows' probabilities (or predicted values), in any row order.
    text_index : numpy array of int, shape (n_windows,)
        The text each window belongs to (every text in ``range(n_texts)`` has at least one).
    n_texts : int
    how : {"mean", "max"}

    Returns
    -------
    numpy array of float64, shape (n_texts, ...)

    >>> pool_rows(np.array([[0.2, 0.8], [0.6, 0.4], [0.9, 0.1]]), np.array([0, 0, 1]), 2)
    array([[0.4, 0.6],
           [0.9, 0.1]])
    """
    check_window_pooling(how)
    values = np.asarray(values, dtype=np.float64)
    index = np.asarray(text_index, dtype=np.int64)
    if len(index) != len(values):
        raise EasytxError(f"{len(values)} window rows but {len(index)} text indices.")
    counts = np.bincount(index, minlength=n_texts) if len(index) else np.zeros(n_texts, dtype=np.int64)
    if len(counts) != n_texts or (counts == 0).any():
        raise EasytxError(f"The windows do not cover texts 0..{n_texts - 1} exactly (counts {counts[:10]}).")
    shape = (n_texts, *values.shape[1:])
    if how == "max":
        out = np.full(shape, -np.inf)
        np.maximum.at(out, index, values)
        return out
    out = np.zeros(shape)
    np.add.at(out, index, values)
    return out / counts.reshape((-1,) + (1,) * (values.ndim - 1))


def _content(word_ids: Sequence[int | None]) -> tuple[int, int]:
    """``(first, end)``: the contiguous run of a window's text tokens (``word_ids`` not ``None``)."""
    positions = [p for p, w in enumerate(word_ids) if w is not None]
    if not positions:
        return 0, 0
    first, end = positions[0], positions[-1] + 1
    if end - first != len(positions):
        raise EasytxError("A window's text tokens are not contiguous; windows need one text per row.")
    return first, end


def token_plan(
    word_ids: Sequence[Sequence[int | None]],
    rows: Sequence[int],
    stride: int,
    *,
    input_ids: Sequence[Sequence[int]] | None = None,
) -> tuple[list[tuple[int, int]], list[int | None]]:
    """Which window predicts each token of one text cut into the windows ``rows`` (in order).

    Window ``j + 1`` starts ``stride`` text tokens before window ``j`` ends (the fast tokenizer's
    overflow). Each text token is taken from the window where it lies farthest from a window
    edge, counting the text's own start and end as no edge; ties go to the earlier window.
    Special tokens come from the first window (those before the text) and the last (after it).

    Parameters
    ----------
    word_ids : list of list of (int or None)
        Every window row's ``word_ids`` (``None`` for special tokens), indexed by row.
    rows : list of int
        This text's window rows, in the order the tokenizer made them.
    stride : int
        Text tokens shared by consecutive windows.
    input_ids : list of list of int, optional
        The rows' token ids: the tokens the windows share are checked to be the same.

    Returns
    -------
    (plan, text_word_ids)
        ``plan``: one ``(row, position)`` per token of the whole text (special tokens included);
        ``text_word_ids``: the word index of each of those tokens.

    Raises
    ------
    EasytxError
        The windows do not overlap by ``stride`` tokens (a tokenizer that cuts windows otherwise).

    >>> ids = [[None, 0, 1, 2, None], [None, 1, 2, 3, None]]
    >>> token_plan(ids, [0, 1], 2)
    ([(0, 0), (0, 1), (0, 2), (1, 2), (1, 3), (1, 4)], [None, 0, 1, 2, 3, None])
    """
    rows = list(rows)
    spans = [_content(word_ids[r]) for r in rows]
    starts = [0]
    for (first, end), _ in zip(spans[:-1], rows[:-1]):
        starts.append(starts[-1] + (end - first) - stride)
    total = starts[-1] + spans[-1][1] - spans[-1][0]
    best = np.full(total, -1.0)
    source = np.zeros((total, 2), dtype=np.int64)
    last = len(rows) - 1
    for j, (row, (first, end), start) in enumerate(zip(rows, spans, starts)):
        n = end - first
        if n <= 0:
            continue
        if j and n and starts[j] < starts[j - 1] + 1:
            raise EasytxError("Sliding windows do not move forward; pass a smaller stride.")
        offsets = np.arange(n, dtype=np.float64)
        left = offsets if j > 0 else np.full(n, np.inf)
        right = (n - 1 - offsets) if j < last else np.full(n, np.inf)
        score = np.minimum(left, right)
        where = slice(start, start + n)
        better = score > best[where]
        best[where] = np.where(better, score, best[where])
        source[where, 0] = np.where(better, row, source[where, 0])
        source[where, 1] = np.where(better, np.arange(first, end), source[where, 1])
        if input_ids is not None and j:
            prev_row, (prev_first, prev_end) = rows[j - 1], spans[j - 1]
            shared = prev_end - prev_first - (start - starts[j - 1])
            tail = list(input_ids[prev_row][prev_end - shared : prev_end])
            head = list(input_ids[row][first : first + shared])
            if tail != head:
                raise EasytxError(
                    f"Sliding windows should share {stride} tokens but the tokenizer's windows "
                    "differ there (a tokenizer that truncates on the left?). Pass windows=False."
                )
    first0, _ = spans[0]
    row_last, (_, end_last) = rows[-1], spans[-1]
    plan = [(rows[0], p) for p in range(first0)]
    plan += [(int(r), int(p)) for r, p in source]
    plan += [(row_last, p) for p in range(end_last, len(word_ids[row_last]))]
    text_word_ids = [word_ids[r][p] for r, p in plan]
    return plan, text_word_ids


def gather_tokens(values: np.ndarray, plans: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
    """Token-level ``values`` (``(n_windows, width, ...)``) of each text, gathered by its plan
    (:func:`token_plan`), zero-padded to the longest text: shape ``(n_texts, longest, ...)``."""
    values = np.asarray(values)
    width = max((len(p) for p in plans), default=0)
    out = np.zeros((len(plans), width, *values.shape[2:]), dtype=values.dtype)
    for i, plan in enumerate(plans):
        if plan:
            rows, positions = np.asarray(plan, dtype=np.int64).T
            out[i, : len(plan)] = values[rows, positions]
    return out
