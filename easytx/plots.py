"""matplotlib figures: the learning-rate finder, training history and the confusion matrix.

No TensorFlow here. matplotlib is an optional extra (``pip install "easytx-nlp[plots]"``); without it
each function raises :class:`~easytx.errors.MissingDependencyError` naming that command.

Every function returns a ``matplotlib.figure.Figure``: save it with ``fig.savefig("x.png")``. In a
Jupyter/Colab notebook the figure is shown once, as the cell's value (easytx closes it in pyplot
so the inline backend does not draw it a second time; use ``IPython.display.display(fig)`` to show
it from the middle of a cell). In a script, ``matplotlib.pyplot.show()`` opens the windows.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, MissingDependencyError

__all__ = ["lr_plot", "history_plot", "confusion_matrix_plot", "show", "in_notebook"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            'Plots need matplotlib, an optional extra: pip install "easytx-nlp[plots]" '
            "(or pip install matplotlib)."
        ) from None
    return plt


def in_notebook() -> bool:
    """True inside a Jupyter/Colab kernel (never imports IPython itself)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _finish(fig: Any) -> Any:
    fig.tight_layout()
    if in_notebook():  # shown once, as the cell's value, instead of twice
        _pyplot().close(fig)
    return fig


def show(fig: Any) -> None:
    """Display ``fig`` now: inline in a notebook, else with ``pyplot.show()``."""
    if in_notebook():
        from IPython.display import display

        display(fig)
    else:
        _pyplot().show()


def lr_plot(result: Any, *, n_skip_beginning: int = 5, n_skip_end: int = 2, suggest: bool = True) -> Any:
    """Loss against learning rate on a log x-axis, with the suggestions marked.

    Parameters
    ----------
    result : easytx.learner.LRSuggestions
        What ``Learner.lr_find()`` returned (``lrs``, ``losses`` and the suggestions).
    n_skip_beginning, n_skip_end : int
        Leave out this many points at the start (noisy) and at the end (diverging).
    suggest : bool
        Mark the suggestions: ``min_div5`` (the one to use), ``valley``, ``min_div10`` and
        ``steepest``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    lrs, losses = list(result.lrs), list(result.losses)
    end = len(lrs) - n_skip_end if n_skip_end else len(lrs)
    if end - n_skip_beginning < 2:
        n_skip_beginning, end = 0, len(lrs)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs[n_skip_beginning:end], losses[n_skip_beginning:end], color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss (smoothed)")
    ax.set_title("Learning-rate finder")
    ax.grid(True, which="major", alpha=0.3)
    if suggest:  # open rings of two sizes, a filled diamond under a smaller square: all stay visible
        styles = (
            ("min_div5", dict(marker="D", markersize=9)),
            ("valley", dict(marker="o", markersize=18, markerfacecolor="none", markeredgewidth=2.5)),
            ("min_div10", dict(marker="o", markersize=11, markerfacecolor="none", markeredgewidth=2)),
            ("steepest", dict(marker="s", markersize=6)),
        )
        for (name, style), color in zip(styles, ("tab:purple", "tab:orange", "tab:red", "tab:green")):
            lr = getattr(result, name, None)
            if lr is None:
                continue
            # the nearest point of the drawn curve (a suggestion may fall among the skipped ones)
            idx = min(range(n_skip_beginning, end), key=lambda i: abs(np.log(lrs[i]) - np.log(lr)))
            label = f"{name}: {lr:.1e}"
            ax.plot([lrs[idx]], [losses[idx]], linestyle="none", color=color, label=label, **style)
        ax.legend()
    return _finish(fig)


def history_plot(batch_history: dict, history: Any, what: str) -> Any:
    """Per-batch lr/momentum, or an epoch metric with its validation twin.

    Parameters
    ----------
    batch_history : dict
        ``Learner.batch_history``: lists ``lr``, ``momentum`` and ``loss`` per training batch.
    history : tf_keras.callbacks.History or None
        The last fit's History (its ``history`` dict holds the epoch metrics).
    what : str
        ``"lr"``, ``"momentum"``, ``"loss"`` or any metric name in the History
        (``"accuracy"``...); ``val_*`` is drawn next to it when present.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    epochs = {} if history is None else dict(history.history)
    available = sorted({"lr", "momentum", *(k for k in epochs if not k.startswith("val_"))})
    if what in ("lr", "momentum"):
        values = [v for v in batch_history.get(what, []) if v is not None]
        if not values:
            raise ConfigError(f"No {what!r} was recorded; available: {available}.")
    elif what not in epochs and not (what == "loss" and batch_history.get("loss")):
        raise ConfigError(f"Nothing called {what!r} to plot; available: {available}.")
    fig, ax = plt.subplots(figsize=(6, 4))
    if what in ("lr", "momentum"):
        ax.plot(values)
        ax.set_xlabel("training batch")
        ax.set_ylabel("learning rate" if what == "lr" else "momentum (Adam beta_1)")
        ax.set_title("Learning rate" if what == "lr" else "Momentum")
    elif what in epochs:
        x = range(1, len(epochs[what]) + 1)
        ax.plot(x, epochs[what], "o-", label=f"train {what}")
        if f"val_{what}" in epochs:
            ax.plot(x, epochs[f"val_{what}"], "o-", label=f"validation {what}")
        ax.set_xlabel("epoch")
        ax.set_xticks(list(x))
        ax.set_ylabel(what)
        ax.legend()
    else:  # a fit without History (interrupted): the per-batch running loss
        ax.plot(batch_history["loss"], label="train (running mean per epoch)")
        ax.set_xlabel("training batch")
        ax.set_ylabel(what)
        ax.legend()
    ax.grid(True, alpha=0.3)
    return _finish(fig)


def confusion_matrix_plot(
    matrix: Any, class_names: Sequence, *, normalize: bool = False, title: str | None = None
) -> Any:
    """A confusion matrix as a heat map, counts (or row fractions) written in each cell.

    Parameters
    ----------
    matrix : array-like, shape (k, k)
        Rows are true classes, columns predicted classes (scikit-learn's convention).
    class_names : sequence of str
        The ``k`` class names in id order.
    normalize : bool
        Show each row as fractions of the true class (recall on the diagonal).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    m = np.asarray(matrix, dtype=np.float64)
    names = [str(c) for c in class_names]
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(names):
        raise ConfigError(
            f"A confusion matrix must be square with one row per class ({len(names)} classes). "
            f"Received shape {m.shape}."
        )
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    k = len(names)
    size = min(12.0, max(4.5, 0.6 * k + 2.5))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(m, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else max(1.0, m.max()))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels=names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels=names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("Confusion matrix (row fractions)" if normalize else "Confusion matrix"))
    threshold = (1.0 if normalize else m.max()) / 2.0
    for i in range(k):
        for j in range(k):
            text = f"{m[i, j]:.2f}" if normalize else f"{int(round(m[i, j]))}"
            color = "white" if m[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=9 if k > 8 else 10)
    return _finish(fig)
