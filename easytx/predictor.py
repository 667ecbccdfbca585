"""The :class:`Predictor`: predict, predict_proba, save and load (never imports the learner)."""

from __future__ import annotations

import logging
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from . import (
    __version__,
    _env,  # noqa: F401
    artifacts,
    backend,
)
from .data import check_positive_int, check_texts
from .errors import ArtifactError, DataTypeError
from .inference import predict_logits
from .preprocess import Transformer

logger = logging.getLogger(__name__)

__all__ = ["Predictor", "get_predictor", "load_predictor"]


def _versions() -> dict:
    import tensorflow as tf
    import transformers

    return {
        "easytx": __version__,
        "transformers": transformers.__version__,
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
    }


class Predictor:
    """Turns texts into answers with a trained model and its fitted preprocessor.

    Parameters
    ----------
    model : transformers TF model
    preproc : Transformer
        The fitted preprocessor the model was trained with.
    batch_size : int
        Texts per forward pass; texts are sorted by length so batches hold similar lengths,
        then answers are returned in the input order.
    metrics : dict, optional
        Validation metrics stored with the predictor.
    """

    def __init__(
        self, model: Any, preproc: Transformer, *, batch_size: int = 64, metrics: dict | None = None
    ):
        self.model = model
        self.preproc = preproc
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.metrics = dict(metrics or {})

    def __repr__(self) -> str:
        return (
            f"Predictor(task={self.preproc.task.name!r}, classes={self.get_classes()!r}, "
            f"maxlen={self.preproc.maxlen_})"
        )

    @property
    def task(self):
        return self.preproc.task

    def get_classes(self) -> list:
        """Class names in id order."""
        return self.preproc.get_classes()

    def _texts(self, texts: Any) -> tuple[list, bool]:
        single = isinstance(texts, str) or (
            isinstance(texts, tuple) and len(texts) == 2 and all(isinstance(t, str) for t in texts)
        )
        if single:
            return [texts], True
        if texts is None:
            raise DataTypeError("predict() needs a text or a list of texts. Received: None.")
        if hasattr(texts, "__len__") and len(texts) == 0:
            return [], False
        return check_texts(texts, allow_empty_strings=True, allow_pairs=True), False

    def predict_proba(self, texts: Any) -> np.ndarray:
        """Probabilities, shape ``(n, n_classes)`` (rows sum to 1 for single-label tasks).

        A single string gives shape ``(n_classes,)``.
        """
        items, single = self._texts(texts)
        if not items:
            return np.zeros((0, len(self.get_classes())), dtype=np.float64)
        data = self.preproc.encode_for_prediction(items)
        logits = predict_logits(
            self.model, data, batch_size=self.batch_size, progress=len(items) > 20 * self.batch_size
        )
        proba = self.task.probabilities(logits)
        return proba[0] if single else proba

    def predict(self, texts: Any, return_proba: bool = False) -> Any:
        """Labels for a text (one label) or a list of texts (a list of labels, same order).

        Parameters
        ----------
        texts : str or list of str
        return_proba : bool
            Return :meth:`predict_proba` instead (ktrain's argument).
        """
        if return_proba:
            return self.predict_proba(texts)
        items, single = self._texts(texts)
        if not items:
            return []
        proba = self.predict_proba(items)
        labels = self.task.decode(proba, self.preproc.labels_)
        return labels[0] if single else labels

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | os.PathLike) -> Path:
        """Save to ``folder`` atomically (see :mod:`easytx.artifacts` for the format)."""

        def write_parts(tmp: Path) -> None:
            backend.save_model(self.model, tmp / "model")
            self.preproc.save_tokenizer(tmp / "tokenizer")

        manifest = {
            "format": "easytx-predictor",
            "versions": _versions(),
            "task": self.task.name,
            "head": self.task.head,
            "preprocessing": self.preproc.to_dict(),
            "classes": [c if isinstance(c, (str, int, bool)) else str(c) for c in self.get_classes()],
            "metrics": self.metrics,
            "batch_size": self.batch_size,
        }
        return artifacts.write_folder(folder, write_parts, manifest)

    def export(self, folder: str | os.PathLike, format: str = "saved_model", **options: Any) -> Path:
        """Export for serving without easytx: ``"saved_model"`` (TF Serving) or ``"onnx"``.

        The exported model takes token ids; the tokenizer ships with it. See
        :func:`easytx.export.export_predictor` for the layout and options (``opset``, ``overwrite``).
        """
        from .export import export_predictor

        return export_predictor(self, folder, format, **options)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, batch_size: int | None = None) -> Predictor:
        """Load a predictor saved by :meth:`save` (offline; verifies schema and checksums)."""
        meta = artifacts.read_manifest(folder)
        folder = Path(folder).expanduser()
        try:
            preproc = Transformer.from_dict(meta["preprocessing"], folder / "tokenizer")
            model = backend.load_model(folder / "model", head=meta["head"])
        except KeyError as exc:
            raise ArtifactError(f"{folder}/easytx.json lacks the entry {exc}.") from None
        model._easytx_task = meta["task"]
        return cls(
            model, preproc, batch_size=batch_size or meta.get("batch_size", 64), metrics=meta.get("metrics")
        )


def get_predictor(model: Any, preproc: Transformer, batch_size: int = 64) -> Predictor:
    """Pair a trained model with its preprocessor (ktrain's ``get_predictor``)."""
    if not isinstance(preproc, Transformer):
        raise DataTypeError(
            f"`preproc` must be the easytx Transformer used for training. Received: {type(preproc).__name__}."
        )
    preproc._check_fitted()
    return Predictor(model, preproc, batch_size=batch_size, metrics=getattr(model, "_easytx_metrics", None))


def load_predictor(folder: str | os.PathLike, batch_size: int | None = None) -> Predictor:
    """Load a saved predictor (ktrain's ``load_predictor``); see :meth:`Predictor.load`."""
    return Predictor.load(folder, batch_size=batch_size)
