"""One small object per task: head, loss, metrics, turning logits into answers, and the report.

The :class:`~easytx.Learner` and :class:`~easytx.Predictor` never branch on the task; they ask the
task object. A new task is a new class here (registered with :func:`register_task`) plus its label
encoder in :mod:`easytx.labels`.

Every task answers the same questions (see :class:`Task`):

- ``name``, ``head``: name stored in ``easytx.json``; backend head (``backend.HEADS``);
- ``monitor``: the metric to watch when there is validation data;
- ``label_encoder()``: a new, unfitted encoder from :mod:`easytx.labels` for this task;
- ``n_outputs(labels)``: size of the model's output layer;
- ``loss()``, ``metrics()``: tf-keras loss (on logits) and metrics given to ``model.compile``;
- ``probabilities(logits, labels=None)``: what ``predict_proba`` returns;
- ``decode(proba, labels, **context)``: the user's answers (extra context such as ``texts=`` or
  ``inputs=`` as keywords, which a task ignores when it does not need them);
- ``pool_windows(proba, text_index, n_texts, how)``: one row of probabilities per text from its
  sliding windows' rows (texts longer than ``maxlen``, see :mod:`easytx.windows`);
- ``truth(y, labels)``, ``per_example_loss(y, logits)``: for ``view_top_losses``;
- ``report(y, proba, labels)``, ``scores(y, proba, labels)``: ``validate``'s text report (and
  matrix) and the headline metrics saved with a predictor;
- ``get_config()``: JSON-safe options (thresholds...), restored by :func:`task_from_name`.

Conventions: ``y`` is what the task's label encoder's ``transform`` returned (ids, multi-hot rows,
scaled targets); ``proba`` is what :meth:`Task.probabilities` returned for the same rows (called
with ``labels=`` so a regression task can undo target scaling); ``labels`` is the fitted encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _env  # noqa: F401
from .errors import ArtifactError, ConfigError, DataError
from .windows import pool_rows

__all__ = [
    "Task",
    "Classification",
    "MultiLabel",
    "Regression",
    "task_from_name",
    "make_task",
    "register_task",
    "TASK_NAMES",
]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (rows sum to 1 to within 1e-12)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function in float64, stable for large |x|."""
    z = np.asarray(logits, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


class Task:
    """Interface every task implements (see the module docstring for the contract).

    Constructors store options only; the options are what :meth:`get_config` returns and what a
    saved predictor records in ``easytx.json`` next to the task's name.
    """

    #: name stored in ``easytx.json``
    name = "task"
    #: backend head (see :data:`easytx.backend.HEADS`)
    head = "sequence_classification"
    #: metric watched by early stopping and checkpoints when there is validation data
    monitor = "val_loss"
    #: every metric the task reports (Keras logs and :meth:`scores`) -> "min" or "max" (better)
    metric_directions: dict = {"loss": "min"}
    #: the Learner's default ``head_lr_multiplier`` for this task: how many times faster than the
    #: encoder its new head learns (measured in docs/training-defaults.md)
    head_lr_multiplier: float = 1.0

    # ------------------------------------------------------------------ configuration

    def direction(self, metric: str) -> str:
        """``"min"`` or ``"max"``: which way ``metric`` (``val_`` prefix allowed) improves.

        Raises
        ------
        ConfigError
            The task reports no metric of that name (the message lists those it has).
        """
        name = metric[4:] if isinstance(metric, str) and metric.startswith("val_") else metric
        if name not in self.metric_directions:
            from .errors import closest_match_hint

            known = sorted(self.metric_directions)
            raise ConfigError(
                f"The {self.name} task reports no metric {metric!r}; expected one of {known} "
                f"(or with a 'val_' prefix).{closest_match_hint(str(name), known)}"
            )
        return self.metric_directions[name]

    def get_config(self) -> dict:
        """JSON-safe options of this task (stored in ``easytx.json``)."""
        return {}

    @classmethod
    def from_config(cls, config: dict | None) -> Task:
        return cls(**(config or {}))

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({options})"

    # ------------------------------------------------------------------ labels
    def label_encoder(self, class_names: Sequence | None = None, **options: Any) -> Any:
        """A new, unfitted label encoder for this task (see :mod:`easytx.labels`)."""
        raise NotImplementedError  # pragma: no cover - interface

    def n_outputs(self, labels: Any) -> int:
        """Number of model outputs the fitted ``labels`` need."""
        return int(labels.n_outputs)

    def initial_bias(self, labels: Any) -> np.ndarray | None:
        """Starting bias of the new head's outputs (``None``: the model's default, zeros)."""
        return None

    def truth(self, y: np.ndarray, labels: Any) -> list:
        """Encoded ``y`` back to the user's labels (for reports and ``view_top_losses``)."""
        return labels.inverse_transform(y)

    # ------------------------------------------------------------------ training
    def loss(self, keras: Any = None) -> Any:  # pragma: no cover - interface
        """The Keras loss, from ``keras`` (the model's Keras module: ``keras`` 3 or ``tf_keras``)."""
        raise NotImplementedError

    def metrics(self, keras: Any = None) -> list:  # pragma: no cover - interface
        """The Keras metrics shown while training, from ``keras`` (see :meth:`loss`)."""
        raise NotImplementedError

    def check_class_weight(self, class_weight: Any) -> None:
        """Raise when ``class_weight`` makes no sense for this task (Keras applies it per row)."""
        if class_weight is not None:
            raise ConfigError(
                f"class_weight is not supported for the {self.name!r} task. Received: {class_weight!r}. "
                "Remove it (or weight the examples by repeating them)."
            )

    # ------------------------------------------------------------------ inference
    def probabilities(self, logits: np.ndarray, labels: Any = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def pool_windows(
        self, proba: np.ndarray, text_index: np.ndarray, n_texts: int, how: str = "mean"
    ) -> np.ndarray:
        """One row per text from the :meth:`probabilities` of its windows (``text_index``: the
        text of each row): their mean (``how="mean"``) or each column's maximum (``"max"``);
        for regression the predicted values' mean or maximum."""
        return pool_rows(proba, text_index, n_texts, how)

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:  # pragma: no cover
        """Turn :meth:`probabilities` output into answers, one per row.

        ``context`` carries what a task may need besides the numbers (``texts=``: the inputs in
        order; ``inputs=``: the tokenized :class:`~easytx.preprocess.TransformerDataset`), e.g. a
        token-tagging task maps sub-tokens back to words and character offsets. Tasks ignore the
        keywords they do not use.
        """
        raise NotImplementedError

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation
    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, Any]:
        """``(text report, matrix or None)`` for ``validate``."""
        raise NotImplementedError  # pragma: no cover - interface

    def scores(self, y: np.ndarray, proba: np.ndarray, labels: Any = None) -> dict:
        """Headline metrics (floats) stored with a saved predictor."""
        raise NotImplementedError  # pragma: no cover - interface


# ---------------------------------------------------------------------------------------- tasks
class Classification(Task):
    """Single-label classification: softmax over ``k`` classes, cross-entropy, accuracy."""

    name = "classification"
    head = "sequence_classification"
    monitor = "val_accuracy"
    metric_directions = {"loss": "min", "accuracy": "max", "macro_f1": "max"}

    def label_encoder(self, class_names: Sequence | None = None, **options: Any) -> Any:
        from .labels import ClassLabels

        return ClassLabels(class_names)

    def check_class_weight(self, class_weight: Any) -> None:
        return None  # Keras maps {class_id: weight} onto the sparse labels

    def loss(self, keras: Any = None) -> Any:
        return _keras_module(keras).losses.SparseCategoricalCrossentropy(from_logits=True)

    def metrics(self, keras: Any = None) -> list:
        return [_keras_module(keras).metrics.SparseCategoricalAccuracy(name="accuracy")]

    def probabilities(self, logits: np.ndarray, labels: Any = None) -> np.ndarray:
        return softmax(logits)

    def pool_windows(
        self, proba: np.ndarray, text_index: np.ndarray, n_texts: int, how: str = "mean"
    ) -> np.ndarray:
        """The windows' mean probabilities, or with ``how="max"`` each class's largest
        probability in any window, rows scaled to sum to 1."""
        pooled = pool_rows(proba, text_index, n_texts, how)
        return pooled / pooled.sum(axis=-1, keepdims=True) if how == "max" else pooled

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:
        return labels.inverse_transform(np.asarray(proba).argmax(axis=-1))

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:
        proba = softmax(logits)
        picked = proba[np.arange(len(y)), np.asarray(y, dtype=int)]
        return -np.log(np.clip(picked, 1e-12, 1.0))

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, np.ndarray]:
        from sklearn.metrics import classification_report, confusion_matrix

        pred = np.asarray(proba).argmax(axis=-1)
        k = len(labels.classes_)
        names = [str(c) for c in labels.classes_]
        text = classification_report(
            y, pred, labels=list(range(k)), target_names=names, digits=4, zero_division=0
        )
        return text, confusion_matrix(y, pred, labels=list(range(k)))

    def scores(self, y: np.ndarray, proba: np.ndarray, labels: Any = None) -> dict:
        from sklearn.metrics import accuracy_score, f1_score

        pred = np.asarray(proba).argmax(axis=-1)
        return {
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        }


class MultiLabel(Task):
    """Multi-label classification: one independent sigmoid per label, binary cross-entropy.

    Parameters
    ----------
    thresholds : float or list of float, optional
        Decision threshold per label (a single float applies to all labels). Default 0.5.
        :meth:`tune_thresholds` sets them from validation data.

    Examples
    --------
    >>> task = MultiLabel(thresholds=[0.5, 0.3])
    >>> task.decision(np.array([[0.6, 0.2], [0.4, 0.35]])).tolist()
    [[True, False], [False, True]]
    """

    name = "multilabel"
    head = "sequence_classification"
    monitor = "val_macro_f1"
    metric_directions = {"loss": "min", "micro_f1": "max", "macro_f1": "max", "subset_accuracy": "max"}
    # each label's sigmoid must find its own bias and direction from a few hundred examples: a
    # head 30x faster lifted GoEmotions macro-F1 from 0.36 to 0.56 (docs/training-defaults.md)
    head_lr_multiplier = 30.0

    def __init__(self, thresholds: float | Sequence[float] | None = None):
        self.thresholds = _check_thresholds(thresholds)

    def get_config(self) -> dict:
        return {"thresholds": self.thresholds}

    def label_encoder(self, class_names: Sequence | None = None, **options: Any) -> Any:
        from .labels import MultiLabels

        return MultiLabels(class_names, separator=options.get("separator"))

    def loss(self, keras: Any = None) -> Any:
        return _keras_module(keras).losses.BinaryCrossentropy(from_logits=True)

    def metrics(self, keras: Any = None) -> list:
        import tensorflow as tf

        class F1OnLogits(_keras_module(keras).metrics.F1Score):
            """F1 at probability 0.5 from logits (the model outputs logits)."""

            def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
                return super().update_state(y_true, tf.sigmoid(tf.cast(y_pred, tf.float32)), sample_weight)

        return [
            F1OnLogits(average="micro", threshold=0.5, name="micro_f1"),
            F1OnLogits(average="macro", threshold=0.5, name="macro_f1"),
        ]

    def probabilities(self, logits: np.ndarray, labels: Any = None) -> np.ndarray:
        return sigmoid(logits)

    def initial_bias(self, labels: Any) -> np.ndarray | None:
        """The labels' prior log-odds in the training data: the head starts by predicting each
        label's frequency, not 0.5 (rare labels otherwise spend the first steps on their bias)."""
        prior = getattr(labels, "prior_", None)
        if prior is None:
            return None
        p = np.clip(np.asarray(prior, dtype=np.float64), 1e-3, 1 - 1e-3)
        return np.log(p / (1 - p))

    def threshold_array(self, k: int) -> np.ndarray:
        """The thresholds as an array of length ``k``."""
        if self.thresholds is None:
            return np.full(k, 0.5)
        if isinstance(self.thresholds, float):
            return np.full(k, self.thresholds)
        if len(self.thresholds) != k:
            raise ConfigError(
                f"{len(self.thresholds)} thresholds were given for {k} labels; pass one per label "
                "(in class order) or a single float."
            )
        return np.asarray(self.thresholds, dtype=np.float64)

    def decision(self, proba: np.ndarray) -> np.ndarray:
        """Boolean matrix: label ``j`` is predicted when its probability exceeds its threshold."""
        proba = np.asarray(proba, dtype=np.float64)
        return proba > self.threshold_array(proba.shape[-1])

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:
        return labels.inverse_transform(self.decision(proba))

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:
        z = np.asarray(logits, dtype=np.float64)
        t = np.asarray(y, dtype=np.float64)
        # numerically stable binary cross-entropy on logits, averaged over labels
        bce = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        return bce.mean(axis=-1)

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, np.ndarray]:
        from sklearn.metrics import classification_report, multilabel_confusion_matrix

        pred = self.decision(proba).astype(int)
        truth = np.asarray(y).astype(int)
        names = [str(c) for c in labels.classes_]
        text = classification_report(truth, pred, target_names=names, digits=4, zero_division=0)
        return text, multilabel_confusion_matrix(truth, pred)

    def scores(self, y: np.ndarray, proba: np.ndarray, labels: Any = None) -> dict:
        from sklearn.metrics import f1_score

        pred = self.decision(proba).astype(int)
        truth = np.asarray(y).astype(int)
        return {
            "micro_f1": float(f1_score(truth, pred, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
            "subset_accuracy": float((pred == truth).all(axis=1).mean()) if len(truth) else 0.0,
        }

    def tune_thresholds(
        self, y: np.ndarray, proba: np.ndarray, *, grid: Sequence[float] | None = None
    ) -> list[float]:
        """Pick each label's threshold maximising that label's F1 on ``(y, proba)``; returns them.

        Ties go to the threshold closest to 0.5. A label without positives in ``y`` keeps 0.5.
        The thresholds are stored on the task (and saved with the predictor).
        """
        y = np.asarray(y).astype(int)
        proba = np.asarray(proba, dtype=np.float64)
        if y.ndim != 2 or y.shape != proba.shape:
            raise DataError(
                f"tune_thresholds needs multi-hot labels and probabilities of the same shape; "
                f"received {y.shape} and {proba.shape}."
            )
        grid_a = np.asarray(grid if grid is not None else np.round(np.arange(0.05, 0.951, 0.025), 4))
        if grid_a.ndim != 1 or not len(grid_a) or (grid_a <= 0).any() or (grid_a >= 1).any():
            raise ConfigError(f"`grid` must be thresholds strictly between 0 and 1. Received: {grid!r}")
        best = []
        for j in range(y.shape[1]):
            if not y[:, j].any():
                best.append(0.5)
                continue
            pred = proba[:, j][None, :] > grid_a[:, None]  # (grid, n)
            tp = (pred & (y[:, j] == 1)).sum(axis=1)
            fp = (pred & (y[:, j] == 0)).sum(axis=1)
            fn = ((~pred) & (y[:, j] == 1)).sum(axis=1)
            f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
            top = np.flatnonzero(f1 == f1.max())
            best.append(float(grid_a[top[np.argmin(np.abs(grid_a[top] - 0.5))]]))
        self.thresholds = best
        return best


class Regression(Task):
    """Regression: one linear output per target, mean squared error, MAE and RMSE.

    Target scaling (``scale_targets=True`` on the preprocessor) lives in the label encoder
    (:class:`easytx.labels.RegressionTargets`): the model learns standardised targets and
    :meth:`probabilities` undoes the scaling when given the encoder.
    """

    name = "regression"
    head = "sequence_classification"
    monitor = "val_loss"
    metric_directions = {"loss": "min", "mae": "min", "rmse": "min"}

    def label_encoder(self, class_names: Sequence | None = None, **options: Any) -> Any:
        from .labels import RegressionTargets

        return RegressionTargets(class_names, scale=bool(options.get("scale_targets", False)))

    def loss(self, keras: Any = None) -> Any:
        return _keras_module(keras).losses.MeanSquaredError()

    def metrics(self, keras: Any = None) -> list:
        k = _keras_module(keras)

        return [
            k.metrics.MeanAbsoluteError(name="mae"),
            k.metrics.RootMeanSquaredError(name="rmse"),
        ]

    def probabilities(self, logits: np.ndarray, labels: Any = None) -> np.ndarray:
        """Predicted values in the user's units (scaling undone when ``labels`` is given)."""
        values = np.asarray(logits, dtype=np.float64)
        return values if labels is None else labels.unscale(values)

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:
        values = np.asarray(proba, dtype=np.float64)
        if values.shape[-1] == 1:
            return [float(v) for v in values[:, 0]]
        return [[float(v) for v in row] for row in values]

    def truth(self, y: np.ndarray, labels: Any) -> list:
        return self.decode(labels.unscale(np.asarray(y, dtype=np.float64)), labels)

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:
        diff = np.asarray(logits, dtype=np.float64) - np.asarray(y, dtype=np.float64).reshape(
            np.shape(logits)
        )
        return (diff**2).mean(axis=-1)

    def _errors(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        truth = np.asarray(y, dtype=np.float64)
        if labels is not None:
            truth = labels.unscale(truth)
        return truth.reshape(np.shape(proba)), np.asarray(proba, dtype=np.float64)

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, None]:
        truth, pred = self._errors(y, proba, labels)
        names = (
            [str(c) for c in labels.classes_]
            if labels is not None
            else [f"target_{j}" for j in range(pred.shape[1])]
        )
        width = max(10, *(len(n) for n in names))
        lines = [f"{'target':>{width}} {'MAE':>10} {'RMSE':>10} {'R2':>8} {'n':>7}"]
        for j, name in enumerate(names):
            err = pred[:, j] - truth[:, j]
            var = float(np.var(truth[:, j]))
            r2 = 1 - float(np.mean(err**2)) / var if var > 0 else float("nan")
            lines.append(
                f"{name:>{width}} {np.mean(np.abs(err)):10.4f} {np.sqrt(np.mean(err**2)):10.4f} "
                f"{r2:8.4f} {len(err):7d}"
            )
        return "\n".join(lines) + "\n", None

    def scores(self, y: np.ndarray, proba: np.ndarray, labels: Any = None) -> dict:
        truth, pred = self._errors(y, proba, labels)
        err = pred - truth
        return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err**2)))}


def _check_thresholds(thresholds: Any) -> float | list[float] | None:
    if thresholds is None:
        return None
    values = [thresholds] if isinstance(thresholds, (int, float)) else thresholds
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ConfigError(
            f"`thresholds` must be a float or a list of floats in (0, 1). Received: {thresholds!r}"
        ) from None
    if not values or any(not 0.0 < v < 1.0 for v in values) or isinstance(thresholds, bool):
        raise ConfigError(f"`thresholds` must lie strictly between 0 and 1. Received: {thresholds!r}")
    return values[0] if isinstance(thresholds, (int, float)) else values


# ---------------------------------------------------------------------------------------- registry
_TASKS: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Register a task class under its ``name`` (so saved predictors can restore it)."""
    _TASKS[cls.name] = cls
    return cls


for _cls in (Classification, MultiLabel, Regression):
    register_task(_cls)

#: names accepted by ``Transformer(task=...)`` (plus aliases, see :func:`make_task`)
TASK_NAMES = _TASKS.keys()
_ALIASES = {"multi_label": "multilabel", "multi-label": "multilabel", "regress": "regression"}


def make_task(task: str | Task) -> Task:
    """A task object from a name (``"classification"``, ``"multilabel"``, ``"regression"``) or a
    task object (returned as is)."""
    if isinstance(task, Task):
        return task
    if not isinstance(task, str):
        raise ConfigError(f"`task` must be a task name {sorted(_TASKS)} or a Task object. Received: {task!r}")
    key = _ALIASES.get(task.lower(), task.lower())
    if key not in _TASKS:
        raise ConfigError(f"Unknown task {task!r}. Expected one of {sorted(_TASKS)}.")
    return _TASKS[key]()


def task_from_name(name: str, config: dict | None = None) -> Task:
    """Return the task object registered under ``name``, with the saved ``config``."""
    try:
        cls = _TASKS[name]
    except (KeyError, TypeError):
        raise ArtifactError(
            f"Unknown task {name!r}; known tasks: {sorted(_TASKS)}. The predictor may come from a "
            "newer easytx."
        ) from None
    try:
        return cls.from_config(config)
    except (TypeError, ConfigError) as exc:
        raise ArtifactError(f"The saved configuration of the {name!r} task is invalid: {exc}") from None


def _keras_module(keras: Any) -> Any:
    """``keras`` itself, or by default tf_keras where installed and Keras 3 otherwise."""
    if keras is not None:
        return keras
    from ._keras import keras3, legacy_keras

    return legacy_keras() or keras3()


# ---------------------------------------------------------------------------------------- tagging
def _masked_token_loss(keras: Any = None) -> Any:
    import tensorflow as tf

    from .tagging import IGNORE_INDEX

    class MaskedTokenCrossEntropy(_keras_module(keras).losses.Loss):
        """Sparse cross-entropy averaged over the labelled sub-tokens (``y != -100``) of a batch."""

        def __init__(self, name: str = "masked_token_crossentropy", **kwargs: Any):
            kwargs.setdefault("reduction", "sum_over_batch_size")  # the same name in both Kerases
            super().__init__(name=name, **kwargs)

        def call(self, y_true: Any, y_pred: Any) -> Any:
            y_true = tf.cast(y_true, tf.int32)
            mask = tf.not_equal(y_true, IGNORE_INDEX)
            safe = tf.where(mask, y_true, tf.zeros_like(y_true))
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=y_pred)
            maskf = tf.cast(mask, losses.dtype)
            # SUM_OVER_BATCH_SIZE divides by every position; rescale so the result is the mean
            # over labelled positions only
            scale = tf.cast(tf.size(maskf), losses.dtype) / tf.maximum(tf.reduce_sum(maskf), 1.0)
            return losses * maskf * scale

    return MaskedTokenCrossEntropy()


def _masked_token_accuracy(keras: Any = None) -> Any:
    import tensorflow as tf

    from .tagging import IGNORE_INDEX

    class MaskedTokenAccuracy(_keras_module(keras).metrics.Mean):
        """Accuracy over labelled sub-tokens (each word's first sub-token)."""

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            y_true = tf.cast(y_true, tf.int32)
            mask = tf.cast(tf.not_equal(y_true, IGNORE_INDEX), tf.float32)
            pred = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
            correct = tf.cast(tf.equal(pred, y_true), tf.float32)
            return super().update_state(correct, sample_weight=mask)

    return MaskedTokenAccuracy(name="accuracy")


class TokenClassification(Task):
    """Token classification (NER, chunking, POS): one softmax per word, entity-level scores.

    Labels are per sub-token ids with :data:`easytx.tagging.IGNORE_INDEX` where a sub-token
    carries none (see :class:`easytx.tagger.TaggingTransformer`). ``validate`` reports
    entity-level precision/recall/F1 per type (conlleval rules); plain tagging (scheme ``none``)
    reports per-tag scores.

    ``decode`` returns, per text, a list of entities ``{"text", "type", "start", "end",
    "score"}`` (character offsets into the text), or ``(word, tag)`` pairs with
    ``return_tokens=True`` (always for scheme ``none``).
    """

    name = "token_classification"
    head = "token_classification"
    monitor = "val_loss"
    metric_directions = {
        "loss": "min",
        "accuracy": "max",
        "token_accuracy": "max",
        "entity_precision": "max",
        "entity_recall": "max",
        "entity_f1": "max",
    }
    #: keyword options :meth:`Predictor.predict` passes on to :meth:`decode`
    decode_options = ("return_tokens", "return_scores", "return_offsets")

    def __init__(self) -> None:
        self.preproc = None  # the TaggingTransformer, to re-tokenize texts when decode lacks inputs

    def label_encoder(self, class_names: Any = None, **options: Any) -> Any:
        if self.preproc is None:  # a plain Transformer(task="token_classification")
            raise ConfigError(
                "Token classification takes sentences as word lists with one tag per word: use "
                "easytx.text.TaggingTransformer (or text.entities_from_conll2003 / "
                "entities_from_df / entities_from_txt) instead of Transformer(task=...)."
            )
        from .tagging import TagLabels

        return TagLabels(options.get("tag_scheme", "auto"))

    def n_outputs(self, labels: Any) -> int:
        return int(labels.n_outputs)

    def loss(self, keras: Any = None) -> Any:
        return _masked_token_loss(keras)

    def metrics(self, keras: Any = None) -> list:
        return [_masked_token_accuracy(keras)]

    def probabilities(self, logits: np.ndarray, labels: Any = None) -> np.ndarray:
        return softmax(logits)

    # ------------------------------------------------------------------ word level
    @staticmethod
    def _word_rows(y: np.ndarray, proba: np.ndarray) -> tuple[list, list]:
        """(true ids, predicted ids) per row at the labelled positions (each word's first piece)."""
        from .tagging import IGNORE_INDEX

        y = np.asarray(y)
        truth, pred = [], []
        for row in range(len(y)):
            width = min(y.shape[1], proba.shape[1])
            positions = np.flatnonzero(y[row, :width] != IGNORE_INDEX)
            truth.append(y[row, positions].tolist())
            pred.append(np.asarray(proba[row, positions]).argmax(axis=-1).tolist())
        return truth, pred

    def truth(self, y: np.ndarray, labels: Any) -> list:
        from .tagging import IGNORE_INDEX

        rows = [[int(v) for v in row if v != IGNORE_INDEX] for row in np.asarray(y)]
        return labels.inverse_transform(rows)

    def decode(self, proba: np.ndarray, labels: Any, **context: Any) -> list:
        from .tagging import entities_with_offsets, word_predictions

        unknown = sorted(set(context) - {"texts", "inputs", *self.decode_options})
        if unknown:
            raise ConfigError(f"Unexpected option(s) for token classification: {unknown}.")
        inputs = context.get("inputs")
        if inputs is None or not hasattr(inputs, "word_ids"):
            texts = context.get("texts")
            if texts is None or self.preproc is None:
                raise ConfigError("Decoding tags needs the texts and the tagging preprocessor.")
            # as the Predictor encodes them by default: long texts in windows, put back together
            inputs = self.preproc.encode_for_prediction(list(texts), windows=True).per_text()
        return_tokens = bool(context.get("return_tokens", False)) or labels.scheme_ == "none"
        extras = [bool(context.get(name, False)) for name in ("return_scores", "return_offsets")]
        if any(extras) and not return_tokens:
            raise ConfigError(
                "return_scores= and return_offsets= apply to word tags: pass return_tokens=True as well "
                "(entities always carry their score and offsets)."
            )
        out = []
        for row, (words, word_ids) in enumerate(zip(inputs.words, inputs.word_ids)):
            ids, scores, _ = word_predictions(proba[row], word_ids, len(words))
            tags = labels.inverse_transform([ids])[0]  # in the training data's scheme
            if inputs.spans is not None:
                text, spans = inputs.raw[row], inputs.spans[row]
            else:  # pre-split words: offsets into the words joined by spaces
                text = " ".join(words)
                ends = np.cumsum([len(w) + 1 for w in words]) - 1
                spans = [(int(e) - len(w), int(e)) for w, e in zip(words, ends)]
            if return_tokens:
                columns = [words, tags]
                columns += [scores] if extras[0] else []
                columns += [[(int(a), int(b)) for a, b in spans]] if extras[1] else []
                out.append(list(zip(*columns)))
                continue
            iob2 = [labels.classes_[i] for i in ids]
            out.append(entities_with_offsets(text, spans, iob2, scores))
        return out

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:
        from .tagging import IGNORE_INDEX

        y = np.asarray(y)
        width = min(y.shape[1], logits.shape[1])
        y, logits = y[:, :width], np.asarray(logits)[:, :width]
        mask = y != IGNORE_INDEX
        logp = np.log(np.clip(softmax(logits), 1e-12, 1.0))
        picked = np.take_along_axis(logp, np.where(mask, y, 0)[..., None], axis=-1)[..., 0]
        return -(picked * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)

    # ------------------------------------------------------------------ evaluation
    def _tags(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[list, list]:
        truth, pred = self._word_rows(y, proba)
        names = labels.classes_
        return [[names[i] for i in r] for r in truth], [[names[i] for i in r] for r in pred]

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, dict]:
        from .tagging import entity_report, entity_scores

        true_tags, pred_tags = self._tags(y, proba, labels)
        if labels.scheme_ == "none":
            from sklearn.metrics import classification_report

            flat_t = [t for r in true_tags for t in r]
            flat_p = [t for r in pred_tags for t in r]
            names = list(labels.classes_)
            text = classification_report(flat_t, flat_p, labels=names, digits=4, zero_division=0)
            return text, self.scores(y, proba, labels)
        scores = entity_scores(true_tags, pred_tags)
        return entity_report(scores), scores

    def scores(self, y: np.ndarray, proba: np.ndarray, labels: Any = None) -> dict:
        from .tagging import entity_scores

        true_ids, pred_ids = self._word_rows(y, proba)
        flat_t = np.concatenate([np.asarray(r, dtype=int) for r in true_ids]) if true_ids else np.zeros(0)
        flat_p = np.concatenate([np.asarray(r, dtype=int) for r in pred_ids]) if pred_ids else np.zeros(0)
        out = {"token_accuracy": float((flat_t == flat_p).mean()) if len(flat_t) else 0.0}
        if labels is not None and labels.scheme_ != "none":
            true_tags, pred_tags = self._tags(y, proba, labels)
            micro = entity_scores(true_tags, pred_tags)["micro"]
            out.update(
                {
                    "entity_precision": micro["precision"],
                    "entity_recall": micro["recall"],
                    "entity_f1": micro["f1"],
                }
            )
        return out


register_task(TokenClassification)
