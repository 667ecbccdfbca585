"""ktrain's ``ktrain.utils`` data and model helpers, for easytx's data objects and models.

They answer for what :mod:`easytx.ktrain.text` returns (ktrain's ``TransformerDataset``, the
``preprocess_mode='bert'`` tuple) and the models it builds, with ktrain's return values.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np

from ..bindings import task_of
from ..errors import DataTypeError
from .dataset import BertData, Dataset

__all__ = [
    "DEFAULT_BS",
    "DEFAULT_WD",
    "DEFAULT_ES",
    "DEFAULT_ROP",
    "MODEL_NAME",
    "PREPROC_NAME",
    "is_ktrain_dataset",
    "is_iter",
    "is_classifier",
    "is_multilabel",
    "is_regression_from_data",
    "is_huggingface",
    "is_huggingface_from_model",
    "is_huggingface_from_data",
    "is_ner",
    "is_ner_from_data",
    "shape_from_data",
    "ondisk",
    "nsamples_from_data",
    "nclasses_from_data",
    "y_from_data",
    "bert_data_tuple",
    "bad_data_tuple",
    "data_arg_check",
    "metrics_from_model",
    "check_array",
    "batchify",
    "list2chunks",
    "vprint",
]

DEFAULT_BS = 32
DEFAULT_WD = 0.01
DEFAULT_ES = 5
DEFAULT_ROP = 2
MODEL_BASENAME = "tf_model"
MODEL_NAME = MODEL_BASENAME + ".h5"
PREPROC_NAME = MODEL_BASENAME + ".preproc"


def is_ktrain_dataset(data: Any) -> bool:
    return isinstance(data, Dataset)


def is_iter(data: Any, ignore: bool = False) -> bool:
    """ktrain's test for batch-serving data objects (not tuples of arrays)."""
    return True if ignore else is_ktrain_dataset(data)


def is_huggingface_from_model(model: Any) -> bool:
    """A transformer model built by easytx (either backend)."""
    return task_of(model) is not None


def is_huggingface_from_data(data: Any) -> bool:
    return type(data).__name__ == "TransformerDataset"


def is_huggingface(model: Any = None, data: Any = None) -> bool:
    return bool(
        (model is not None and is_huggingface_from_model(model))
        or (data is not None and is_huggingface_from_data(data))
    )


def is_ner_from_data(data: Any) -> bool:
    return type(data).__name__ in ("NERSequence", "TaggedDataset")


def is_ner(model: Any = None, data: Any = None) -> bool:
    """Token classification, from the model's task or the data."""
    if model is not None and getattr(task_of(model), "name", None) == "token_classification":
        return True
    return data is not None and is_ner_from_data(data)


def is_classifier(model: Any) -> tuple[bool, bool]:
    """``(is classification, is multi-label)`` from the model's task."""
    task = task_of(model)
    if task is None:
        raise DataTypeError(
            f"is_classifier() reads the task of a model built by easytx; received {type(model).__name__}."
        )
    return task.name != "regression", task.name == "multilabel"


def metrics_from_model(model: Any) -> list[str]:
    """Names of the metrics the model is trained with (``accuracy``, ``mae``...)."""
    task = task_of(model)
    if task is None:
        return [m if isinstance(m, str) else m.name for m in getattr(model, "metrics", [])]
    return [m.name for m in task.metrics()]


def y_from_data(data: Any) -> np.ndarray:
    """The labels: one-hot/multi-hot rows or targets, as ktrain holds them."""
    if is_ktrain_dataset(data):
        return data.get_y()
    try:
        return data[1]
    except (TypeError, IndexError, KeyError):
        raise DataTypeError(f"could not determine the labels of {type(data).__name__}") from None


def shape_from_data(data: Any) -> tuple:
    """``(rows, maxlen)`` of the inputs."""
    if is_ktrain_dataset(data):
        return data.xshape()
    try:
        return data[0][0].shape if isinstance(data[0], list) else data[0].shape
    except (TypeError, IndexError, AttributeError):
        raise DataTypeError(f"could not determine shape from {type(data).__name__}") from None


def ondisk(data: Any) -> bool:
    return bool(data.ondisk()) if hasattr(data, "ondisk") else False


def nsamples_from_data(data: Any) -> int:
    if is_ktrain_dataset(data):
        return data.nsamples()
    try:
        return len(data[0][0]) if isinstance(data[0], list) else len(data[0])
    except (TypeError, IndexError):
        raise DataTypeError(f"could not determine number of samples from {type(data).__name__}") from None


def nclasses_from_data(data: Any) -> int:
    if is_ktrain_dataset(data):
        return data.nclasses()
    try:
        return data[1].shape[1]
    except (TypeError, IndexError, AttributeError):
        raise DataTypeError(f"could not determine number of classes from {type(data).__name__}") from None


def is_regression_from_data(data: Any) -> bool:
    y = np.asarray(y_from_data(data))
    return y.ndim == 1 or (y.ndim > 1 and y.shape[1] == 1)


def is_multilabel(data: Any) -> bool:
    """Rows with several labels set among the first 1,024 (ktrain's test)."""
    if is_ner(data=data):
        return False
    y = np.asarray(y_from_data(data))
    if y.ndim == 1 or (y.ndim > 1 and y.shape[1] == 1):
        return False
    return bool((y[:1024].sum(axis=1) > 1).any())


def bert_data_tuple(data: Any) -> bool:
    """ktrain's ``preprocess_mode='bert'`` data: ``([ids, segments], y)`` arrays, segments all 0."""
    if isinstance(data, BertData):
        return True
    return bool(
        isinstance(data, tuple)
        and len(data) == 2
        and type(data[0]) is list
        and len(data[0]) == 2
        and all(type(a) is np.ndarray for a in data[0])
        and type(data[1]) is np.ndarray
        and np.count_nonzero(data[0][1]) == 0
    )


def bad_data_tuple(data: Any) -> bool:
    """Not a ``(x, y)`` tuple of arrays (or a BERT-style tuple)."""
    return (
        not isinstance(data, tuple)
        or len(data) != 2
        or type(data[0]) not in (np.ndarray, list)
        or (type(data[0]) is list and type(data[0][0]) is not np.ndarray)
        or type(data[1]) is not np.ndarray
    )


def data_arg_check(
    train_data: Any = None,
    val_data: Any = None,
    train_required: bool = False,
    val_required: bool = False,
    ndarray_only: bool = False,
) -> None:
    if train_required and train_data is None:
        raise DataTypeError("train_data is required")
    if val_required and val_data is None:
        raise DataTypeError("val_data is required")
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if data is not None and not is_iter(data, ndarray_only) and bad_data_tuple(data):
            raise DataTypeError(f"{name} must be a tuple of numpy arrays or a ktrain data object.")


def check_array(X: Any, y: Any = None, X_name: str = "X", y_name: str = "targets") -> None:  # noqa: N803
    if not isinstance(X, (list, np.ndarray)):
        raise DataTypeError(f"{X_name} must be a list or NumPy array")
    if y is not None and not isinstance(y, (list, np.ndarray)):
        raise DataTypeError(f"{y_name} must be a list or NumPy array")


def batchify(X: Any, size: int) -> list:  # noqa: N803
    return [X[i : i + size] for i in range(0, len(X), size)]


def list2chunks(a: Any, n: int) -> Any:
    k, m = divmod(len(a), n)
    return (a[i * k + min(i, m) : (i + 1) * k + min(i + 1, m)] for i in range(n))


def vprint(s: Any = None, verbose: int = 1) -> None:
    """Write ``s`` and a newline to stdout when ``verbose`` (ktrain's progress messages, character
    for character as ktrain's ``vprint`` writes them; ``None`` gives an empty line and a newline)."""
    if verbose:
        sys.stdout.write(str(s or "\n") + "\n")


def __getattr__(name: str) -> Any:
    if name in ("YTransform", "YTransformDataFrame"):
        warnings.warn(f"ktrain.utils.{name} has no easytx counterpart.", stacklevel=2)
    raise AttributeError(f"module 'easytx.ktrain.utils' has no attribute {name!r}")
