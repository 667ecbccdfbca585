"""ktrain's data objects over easytx's datasets: what ``texts_from_*`` return in ``easytx.ktrain``.

ktrain scripts look inside their data: ``len(val.x)`` rows, ``trn[0]`` a batch, ``val.y`` one-hot
rows, and with ``preprocess_mode='bert'`` a plain ``([token_ids, segment_ids], y)`` tuple of
arrays padded to ``maxlen``. These classes show easytx's
:class:`~easytx.preprocess.TransformerDataset` that way; training and prediction always run on
the easytx dataset they carry (``.dataset``), which :func:`easytx.ktrain.get_learner` unwraps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DataTypeError

__all__ = ["Dataset", "TransformerDataset", "BertData", "easytx_dataset", "ktrain_y"]


def ktrain_y(dataset: Any, task_name: str, n_classes: int) -> np.ndarray:
    """Labels as ktrain holds them: one-hot rows for classification, multi-hot rows for
    multi-label, float targets (1-D for one target) for regression."""
    y = np.asarray(dataset.y)
    if task_name == "classification":
        return np.eye(n_classes, dtype=np.float32)[y.astype(np.int64).reshape(-1)]
    if task_name == "regression":
        y = y.astype(np.float32)
        return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    return y.astype(np.float32)


def _padded(dataset: Any, names: list[str], width: int) -> list[np.ndarray]:
    """Every row padded (or cut) to ``width`` tokens, one ``(n, width)`` int32 array per input."""
    n = len(dataset)
    out = []
    for name in names:
        if name == "attention_mask":
            array = np.zeros((n, width), dtype=np.int32)
            for row, length in enumerate(dataset.lengths):
                array[row, : min(int(length), width)] = 1
        else:
            fill = dataset.pad_token_id if name == "input_ids" else 0
            array = np.full((n, width), fill, dtype=np.int32)
            for row, seq in enumerate(dataset.x[name]):
                array[row, : min(len(seq), width)] = seq[:width]
        out.append(array)
    return out


class Dataset:
    """Base class of ktrain's data objects (``ktrain.utils.is_ktrain_dataset`` tests for it)."""

    def ondisk(self) -> bool:
        return False


class TransformerDataset(Dataset):
    """ktrain's ``TransformerDataset``: rows of token ids, ktrain-style labels, batches.

    Parameters
    ----------
    dataset : easytx.preprocess.TransformerDataset
        The tokenized rows (unpadded); kept as ``.dataset``.
    preproc : easytx.ktrain.text.Transformer
        The preprocessor that made them (its ``maxlen_``, task and classes).
    batch_size : int
        ktrain's batch size (``len()`` counts batches; ``get_learner`` sets it).

    Attributes
    ----------
    x : numpy array, shape (n, n_inputs, maxlen)
        ``input_ids``, ``attention_mask`` (and ``token_type_ids`` where the model has them) padded
        to ``maxlen``, as ktrain holds them; built on first access.
    y : numpy array
        One-hot (classification), multi-hot (multi-label) or float targets (regression).
    """

    def __init__(self, dataset: Any, preproc: Any, *, batch_size: int = 32):
        self.dataset = dataset
        self.preproc = preproc
        self.batch_size = batch_size
        self._x: np.ndarray | None = None

    @property
    def use_token_type_ids(self) -> bool:
        return "token_type_ids" in self.dataset.x

    @property
    def x(self) -> np.ndarray:
        if self._x is None:
            names = ["input_ids", "attention_mask"] + (["token_type_ids"] if self.use_token_type_ids else [])
            self._x = np.stack(_padded(self.dataset, names, self.preproc.maxlen_), axis=1)
        return self._x

    @property
    def y(self) -> np.ndarray | None:
        if self.dataset.y is None:
            return None
        return ktrain_y(self.dataset, self.preproc.task.name, len(self.preproc.get_classes()))

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __getitem__(self, idx: int) -> tuple:
        if not 0 <= idx < len(self):
            raise IndexError(f"batch {idx} out of range: this data has {len(self)} batches.")
        rows = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        y = self.y
        return self.x[rows], (None if y is None else y[rows])

    def __repr__(self) -> str:
        return f"TransformerDataset({self.nsamples()} rows, batch_size={self.batch_size})"

    def to_array(self) -> list[np.ndarray]:
        """The inputs as a list of ``(n, maxlen)`` arrays (ktrain's order)."""
        return [self.x[:, i] for i in range(self.x.shape[1])]

    def to_tfdataset(self, train: bool = True) -> Any:
        """A ``tf.data.Dataset`` of padded batches (easytx's dynamic padding)."""
        return self.dataset.to_tfdataset(self.batch_size, shuffle=train)

    def get_y(self) -> np.ndarray | None:
        return self.y

    def nsamples(self) -> int:
        return len(self.dataset)

    def nclasses(self) -> int:
        y = self.y
        return 1 if y is None or y.ndim == 1 else int(y.shape[1])

    def xshape(self) -> tuple[int, int]:
        return (len(self.dataset), int(self.preproc.maxlen_))


class BertData(tuple):
    """ktrain's ``preprocess_mode='bert'`` data: the tuple ``([token_ids, segment_ids], y)``.

    Both arrays are ``(n, maxlen)``, zero-padded, as keras_bert's tokenizer gave them; ``y`` is
    one-hot (or float targets). The easytx dataset rides along as ``.dataset``.
    """

    dataset: Any

    def __new__(cls, dataset: Any, preproc: Any) -> BertData:
        (ids,) = _padded(dataset, ["input_ids"], preproc.maxlen_)
        if "token_type_ids" in dataset.x:
            (segments,) = _padded(dataset, ["token_type_ids"], preproc.maxlen_)
        else:
            segments = np.zeros_like(ids)
        y = None if dataset.y is None else ktrain_y(dataset, preproc.task.name, len(preproc.get_classes()))
        self = super().__new__(cls, ([ids, segments], y))
        self.dataset = dataset
        return self


def easytx_dataset(data: Any, name: str) -> Any:
    """The easytx dataset inside a ktrain data object (or ``data`` itself when it is one)."""
    if data is None:
        return None
    if isinstance(data, (Dataset, BertData)):  # TransformerDataset, ner.NERSequence, BertData
        return data.dataset
    if isinstance(data, tuple):
        raise DataTypeError(
            f"`{name}` is a tuple of arrays: easytx.ktrain trains transformer models only, on the "
            "data text.texts_from_*(..., preprocess_mode='distilbert'|'bert') or "
            "text.Transformer(...).preprocess_train() return. Plain Keras models on arrays are out "
            "of scope: train those with ktrain or Keras itself."
        )
    return data
