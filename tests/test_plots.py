"""Figures: lr finder, training history, confusion matrix; matplotlib as an optional extra."""

from __future__ import annotations

import sys
import types

import matplotlib  # the test extra installs it
import numpy as np
import pytest

from easytx import plots
from easytx.errors import ConfigError, MissingDependencyError, NotFittedError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sweep():
    lrs = list(np.geomspace(1e-6, 1.0, 40))
    losses = [1.0 - 0.5 * np.tanh(np.log10(lr) + 4) + (0.5 if lr > 0.1 else 0) for lr in lrs]
    return types.SimpleNamespace(lrs=lrs, losses=losses, valley=3e-4, min_div10=1e-4, steepest=1e-4 * 0.9)


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_lr_plot_marks_the_suggestions_on_a_log_axis(tmp_path):
    fig = plots.lr_plot(_sweep())
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = _legend(fig)
    assert labels == ["valley: 3.0e-04", "min_div10: 1.0e-04", "steepest: 9.0e-05"]
    curve, *markers = ax.get_lines()
    assert len(curve.get_xdata()) == 40 - 5 - 2  # skips noisy start and diverging end
    for marker in markers:  # each suggestion sits on the curve
        assert marker.get_xdata()[0] in list(curve.get_xdata())
    fig.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    assert len(plots.lr_plot(_sweep(), suggest=False).axes[0].get_lines()) == 1


def test_history_plot_train_and_validation():
    history = types.SimpleNamespace(
        history={"loss": [0.9, 0.5, 0.3], "val_loss": [0.8, 0.6, 0.5], "accuracy": [0.5, 0.8, 0.9]}
    )
    batches = {"lr": [1e-5, 1e-4, 5e-5], "momentum": [0.95, 0.85, 0.9], "loss": [1.0, 0.8, 0.7]}
    fig = plots.history_plot(batches, history, "loss")
    assert _legend(fig) == ["train loss", "validation loss"]
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), [0.8, 0.6, 0.5])
    assert _legend(plots.history_plot(batches, history, "accuracy")) == ["train accuracy"]
    lr = plots.history_plot(batches, history, "lr").axes[0]
    np.testing.assert_allclose(lr.get_lines()[0].get_ydata(), batches["lr"])
    assert plots.history_plot(batches, history, "momentum").axes[0].get_ylabel().startswith("momentum")
    with pytest.raises(ConfigError, match="available: .*'accuracy'.*'loss'"):
        plots.history_plot(batches, history, "f1")


def test_confusion_matrix_plot_writes_counts_and_fractions():
    m = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 4]])
    fig = plots.confusion_matrix_plot(m, ["a", "b", "c"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["5", "1", "0", "2", "7", "1", "0", "0", "4"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_ylabel() == "true" and ax.get_xlabel() == "predicted"
    fig = plots.confusion_matrix_plot(m, ["a", "b", "c"], normalize=True)
    assert [t.get_text() for t in fig.axes[0].texts][:3] == ["0.83", "0.17", "0.00"]
    with pytest.raises(ConfigError, match="square"):
        plots.confusion_matrix_plot(np.ones((2, 3)), ["a", "b"])


def test_in_a_notebook_figures_are_closed_so_they_show_once(monkeypatch):
    monkeypatch.setattr(plots, "in_notebook", lambda: True)
    fig = plots.lr_plot(_sweep())
    assert not plt.fignum_exists(fig.number)
    monkeypatch.setattr(plots, "in_notebook", lambda: False)
    fig = plots.lr_plot(_sweep())
    assert plt.fignum_exists(fig.number)  # a script's plt.show() still finds it


def test_in_notebook_is_false_outside_a_kernel():
    assert plots.in_notebook() is False


def test_learner_figures(trained, tmp_path):
    learner, _, test = trained
    loss = learner.plot("loss")
    assert _legend(loss) == ["train loss", "validation loss"]
    assert len(loss.axes[0].get_lines()[0].get_xdata()) == len(learner.history.history["loss"])
    assert _legend(learner.plot("accuracy")) == ["train accuracy", "validation accuracy"]
    lrs = learner.plot("lr").axes[0].get_lines()[0].get_ydata()
    assert np.argmax(lrs) not in (0, len(lrs) - 1)  # one-cycle: up, then down
    moms = learner.plot("momentum").axes[0].get_lines()[0].get_ydata()
    assert np.argmin(moms) == np.argmax(lrs)
    with pytest.raises(ConfigError, match="available"):
        learner.plot("precision")

    fig = learner.plot_confusion_matrix()
    ax = fig.axes[0]
    counts = np.array([int(t.get_text()) for t in ax.texts]).reshape(2, 2)
    np.testing.assert_array_equal(counts, learner.validate(print_report=False))
    assert counts.sum() == len(test.texts)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["neg", "pos"]
    fig.savefig(tmp_path / "cm.png")
    assert (tmp_path / "cm.png").stat().st_size > 1000
    normalized = learner.plot_confusion_matrix(normalize=True, class_names=["N", "P"])
    assert [t.get_text() for t in normalized.axes[0].get_xticklabels()] == ["N", "P"]


def test_untrained_learner_has_nothing_to_plot(tiny_bert, small_data):
    import easytx
    from easytx import text

    t = text.Transformer(tiny_bert, maxlen=16)
    trn = t.preprocess_train(small_data[0])
    learner = easytx.get_learner(t.get_classifier(pretrained=False, seed=0), train_data=trn)
    with pytest.raises(NotFittedError, match="train first"):
        learner.plot("loss")
    with pytest.raises(NotFittedError, match="lr_find"):
        learner.lr_plot()
    with pytest.raises(ConfigError, match="val_data"):
        learner.plot_confusion_matrix()


def test_without_matplotlib_a_clear_message(trained, monkeypatch):
    learner, _, _ = trained
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    for draw in (learner.plot, learner.plot_confusion_matrix):
        with pytest.raises(MissingDependencyError, match=r'pip install "easytx-nlp\[plots\]"'):
            draw()
    with pytest.raises(MissingDependencyError, match="matplotlib"):
        plots.lr_plot(_sweep())


def test_validate_report_names_the_classes_without_preproc(trained, capsys):
    learner, _, _ = trained
    learner.validate()  # the class names come from the model's id2label (set by get_classifier)
    report = capsys.readouterr().out
    assert "neg" in report and "pos" in report
