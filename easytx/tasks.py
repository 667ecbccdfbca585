"""One small object per task: head, loss, metrics, turning logits into answers, and the report.

The :class:`~easytx.Learner` and :class:`~easytx.Predictor` never branch on the task; they ask the
task object. A new task is a new class here plus its label encoder in :mod:`easytx.labels`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _env  # noqa: F401
from .errors import ArtifactError

__all__ = ["Task", "Classification", "task_from_name"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (rows sum to 1 to within 1e-12)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Task:
    """Interface every task implements."""

    #: name stored in ``easytx.json``
    name = "task"
    #: backend head (see :data:`easytx.backend.HEADS`)
    head = "sequence_classification"
    #: metric watched by early stopping and checkpoints when there is validation data
    monitor = "val_loss"

    def loss(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def metrics(self) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def probabilities(self, logits: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, proba: np.ndarray, labels: Any) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def per_example_loss(self, y: np.ndarray, logits: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def report(self, y: np.ndarray, proba: np.ndarray, labels: Any) -> tuple[str, Any]:
        raise NotImplementedError  # pragma: no cover - interface


class Classification(Task):
    """Single-label classification: softmax over ``k`` classes, cross-entropy, accuracy."""

    name = "classification"
    head = "sequence_classification"
    monitor = "val_accuracy"

    def loss(self) -> Any:
        import tf_keras

        return tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def metrics(self) -> list:
        import tf_keras

        return [tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits)

    def decode(self, proba: np.ndarray, labels: Any) -> list:
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

    def scores(self, y: np.ndarray, proba: np.ndarray) -> dict:
        """Headline metrics stored with a saved predictor."""
        from sklearn.metrics import accuracy_score, f1_score

        pred = np.asarray(proba).argmax(axis=-1)
        return {
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        }


_TASKS = {Classification.name: Classification}


def task_from_name(name: str) -> Task:
    """Return the task object registered under ``name``."""
    try:
        return _TASKS[name]()
    except KeyError:
        raise ArtifactError(
            f"Unknown task {name!r}; known tasks: {sorted(_TASKS)}. The predictor may come from a "
            "newer easytx."
        ) from None
