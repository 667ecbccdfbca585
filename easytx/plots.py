"""matplotlib figures: the learning-rate finder and training history. No TensorFlow here.

matplotlib is an optional extra (``pip install "easytx[plots]"``).
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, MissingDependencyError

__all__ = ["lr_plot", "history_plot"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            'Plots need matplotlib, an optional extra: pip install "easytx[plots]" '
            "(or pip install matplotlib)."
        ) from None
    return plt


def lr_plot(result: Any, *, n_skip_beginning: int = 5, n_skip_end: int = 2, suggest: bool = True) -> Any:
    """Loss against learning rate (log x-axis), suggestions marked; returns the Figure."""
    plt = _pyplot()
    lrs, losses = result.lrs, result.losses
    end = len(lrs) - n_skip_end if n_skip_end else len(lrs)
    if end - n_skip_beginning < 2:
        n_skip_beginning, end = 0, len(lrs)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs[n_skip_beginning:end], losses[n_skip_beginning:end])
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss (smoothed)")
    if suggest:
        for name, marker in (("min_div10", "o"), ("steepest", "s")):
            lr = getattr(result, name)
            idx = min(range(len(lrs)), key=lambda i: abs(lrs[i] - lr))
            ax.plot([lrs[idx]], [losses[idx]], marker, label=f"{name}: {lr:.1e}")
        ax.legend()
    fig.tight_layout()
    return fig


def history_plot(batch_history: dict, history: Any, what: str) -> Any:
    """Per-batch lr/momentum/loss, or an epoch metric (train and validation); returns the Figure."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    if what in ("lr", "momentum"):
        ax.plot(batch_history[what])
        ax.set_xlabel("batch")
        ax.set_ylabel("learning rate" if what == "lr" else "momentum (Adam beta_1)")
    else:
        epochs = {} if history is None else history.history
        if what not in epochs:
            if what == "loss" and "loss" in batch_history:
                ax.plot(batch_history["loss"], label="train (running mean per epoch)")
            else:
                raise ConfigError(
                    f"Nothing called {what!r} to plot; available: {sorted(['lr', 'momentum', *epochs])}."
                )
        else:
            ax.plot(range(1, len(epochs[what]) + 1), epochs[what], "o-", label=f"train {what}")
            if f"val_{what}" in epochs:
                ax.plot(
                    range(1, len(epochs[what]) + 1), epochs[f"val_{what}"], "o-", label=f"validation {what}"
                )
            ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.legend()
    fig.tight_layout()
    return fig
