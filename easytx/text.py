"""ktrain's ``text`` namespace: the ``Transformer`` preprocessor and the ``texts_from_*`` loaders.

Each loader returns ``(trn, val, preproc)``: training and validation
:class:`~easytx.preprocess.TransformerDataset` objects and the fitted
:class:`~easytx.preprocess.Transformer`, exactly like ktrain's, when given ``model=...``
(ktrain's ``preprocess_mode='bert'``/``'distilbert'`` map to those hub names).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .data import check_columns, check_unique_columns, read_folder, read_table, train_test_split
from .errors import ConfigError, DataError

if TYPE_CHECKING:  # imported lazily at run time (they load TensorFlow)
    from .preprocess import Transformer, TransformerDataset

logger = logging.getLogger(__name__)

__all__ = [
    "Transformer",
    "TransformerDataset",
    "texts_from_array",
    "texts_from_df",
    "texts_from_csv",
    "texts_from_folder",
]

_MODES = {"bert": "bert-base-uncased", "distilbert": "distilbert-base-uncased"}


def __getattr__(name: str) -> Any:  # TensorFlow loads on first use, not on import
    if name in ("Transformer", "TransformerDataset"):
        from . import preprocess

        return getattr(preprocess, name)
    raise AttributeError(f"module 'easytx.text' has no attribute {name!r}")


def _model_name(model: Any, preprocess_mode: str | None) -> Any:
    if model is not None:
        return model
    if preprocess_mode in _MODES:
        return _MODES[preprocess_mode]
    raise ConfigError(
        "Pass model=... (a hub name such as 'distilbert-base-uncased' or a local model folder). "
        f"Received preprocess_mode={preprocess_mode!r}; easytx has no bag-of-words mode."
    )


def _build(
    x_train: Sequence,
    y_train: Sequence,
    x_test: Sequence | None,
    y_test: Sequence | None,
    *,
    model: Any,
    maxlen: Any,
    class_names: Any,
    val_pct: float,
    random_state: int | None,
    verbose: int,
    batch_size: int | None = None,
    task_options: dict | None = None,
) -> tuple:
    from .preprocess import Transformer

    if x_test is None:
        if not 0.0 < val_pct < 1.0:
            raise ConfigError(f"`val_pct` must lie in (0, 1). Received: val_pct={val_pct!r}")
        train, val = train_test_split(x_train, y_train, test_size=val_pct, random_state=random_state)
        x_train, y_train, x_test, y_test = train.texts, train.labels, val.texts, val.labels
    preproc = Transformer(
        model,
        maxlen=maxlen,
        class_names=class_names or None,
        batch_size=batch_size,
        verbose=verbose,
        **(task_options or {}),
    )
    trn = preproc.preprocess_train(x_train, y_train)
    val = preproc.preprocess_test(x_test, y_test)
    return trn, val, preproc


def texts_from_array(
    x_train: Sequence,
    y_train: Sequence,
    x_test: Sequence | None = None,
    y_test: Sequence | None = None,
    class_names: Sequence | None = None,
    maxlen: int | str = "auto",
    val_pct: float = 0.1,
    random_state: int | None = None,
    verbose: int = 1,
    *,
    model: Any = None,
    preprocess_mode: str | None = None,
    batch_size: int | None = None,
    task: Any = None,
    multilabel: bool | None = None,
    scale_targets: bool = False,
    **ktrain_only: Any,
) -> tuple:
    """Texts and labels in lists/arrays -> ``(trn, val, preproc)``.

    Without ``x_test``, ``val_pct`` of the training rows (stratified for single-label classes)
    become validation data. Texts may be ``(text_a, text_b)`` pairs. ``task``, ``multilabel``
    and ``scale_targets`` go to the :class:`~easytx.preprocess.Transformer` (ktrain's
    ``is_regression=True`` means ``task="regression"``). ktrain-only arguments
    (``max_features``, ``ngram_range``, ``lang``) are accepted and ignored.
    """
    options = _task_options(ktrain_only, task, multilabel, scale_targets)
    return _build(
        x_train,
        y_train,
        x_test,
        y_test,
        model=_model_name(model, preprocess_mode),
        maxlen=maxlen,
        class_names=class_names,
        val_pct=val_pct,
        random_state=random_state,
        verbose=verbose,
        batch_size=batch_size,
        task_options=options,
    )


def _ignore(kwargs: dict) -> None:
    allowed = {"max_features", "ngram_range", "lang", "preprocess_mode", "is_regression"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ConfigError(f"Unexpected argument(s): {unknown}.")


def _task_options(ktrain_only: dict, task: Any, multilabel: bool | None, scale_targets: bool) -> dict:
    """Transformer task options from the loader's arguments (ktrain's ``is_regression`` included)."""
    _ignore(ktrain_only)
    if ktrain_only.get("is_regression"):
        if task not in (None, "regression"):
            raise ConfigError(f"is_regression=True contradicts task={task!r}; pass one of them.")
        task = "regression"
    return {"task": task, "multilabel": multilabel, "scale_targets": scale_targets}


def _task_name(options: dict) -> str | None:
    task = options.get("task")
    if task is not None:
        return getattr(task, "name", str(task).lower().replace("-", "").replace("_", ""))
    return "multilabel" if options.get("multilabel") else None


def _labels_from_frame(
    frame: Any, label_columns: Any, where: str, options: dict | None = None
) -> tuple[Any, list | None]:
    """Return (labels, class_names) from one label column or several columns.

    Several columns are one 0/1 column per class: one-hot rows give single-label ids; rows with
    zero or several ones (or ``multilabel=True``) give multi-hot rows. For regression, several
    columns are several targets.
    """
    options = options or {}
    if isinstance(label_columns, str):
        label_columns = [label_columns]
    if not label_columns:
        raise ConfigError("`label_columns` is required: the column(s) holding the labels.")
    check_columns(frame, label_columns, where=where)
    task = _task_name(options)
    if len(label_columns) == 1:
        return frame[label_columns[0]].tolist(), None
    names = [str(c) for c in label_columns]
    try:
        block = frame[list(label_columns)].apply(lambda col: col.astype(float)).to_numpy()
    except (TypeError, ValueError):
        raise DataError(
            f"Label columns {names} must hold numbers (0/1 per class, or targets for regression)."
        ) from None
    if task == "regression":
        return block, names
    if not np.isin(block, (0.0, 1.0)).all():
        raise DataError(
            f"Label columns {names} must hold 0/1 values (one column per class). For several "
            "numeric targets pass task='regression' (or is_regression=True)."
        )
    counts = block.sum(axis=1)
    if task == "multilabel" or ((counts != 1).any() and options.get("multilabel") is not False):
        return block.astype(np.float32), names
    if (counts != 1).any():
        row = int(np.flatnonzero(counts != 1)[0])
        raise DataError(
            f"Row {row} of {where} has {int(counts[row])} labels set among {names}; "
            "single-label classification needs exactly one per row (multilabel=False was passed)."
        )
    return [int(i) for i in block.argmax(axis=1)], names


def _texts_from_frame(frame: Any, text_column: Any, where: str) -> list:
    """Texts from one column, or ``(text_a, text_b)`` pairs from two columns."""
    if isinstance(text_column, (list, tuple)):
        if len(text_column) != 2:
            raise ConfigError(
                f"`text_column` must be one column name, or two for sentence pairs. Received: {text_column!r}"
            )
        check_columns(frame, list(text_column), where=where)
        first, second = (frame[c].tolist() for c in text_column)
        return list(zip(first, second))
    check_columns(frame, [text_column], where=where)
    return frame[text_column].tolist()


def texts_from_df(
    train_df: Any,
    text_column: str,
    label_columns: Any = None,
    val_df: Any = None,
    maxlen: int | str = "auto",
    val_pct: float = 0.1,
    random_state: int | None = None,
    verbose: int = 1,
    *,
    model: Any = None,
    preprocess_mode: str | None = None,
    class_names: Sequence | None = None,
    batch_size: int | None = None,
    task: Any = None,
    multilabel: bool | None = None,
    scale_targets: bool = False,
    **ktrain_only: Any,
) -> tuple:
    """A pandas DataFrame -> ``(trn, val, preproc)``.

    ``text_column`` is one column, or two (``["question1", "question2"]``) for sentence pairs.
    ``label_columns`` is one column of labels (class values, lists or joined strings of label
    names for multi-label, numbers for regression), or several columns: one 0/1 column per class
    as in ktrain (the column names become the classes; rows with zero or several ones make the
    task multi-label), or several numeric targets with ``task="regression"``.
    """
    options = _task_options(ktrain_only, task, multilabel, scale_targets)
    check_unique_columns(train_df, "train_df")
    x = _texts_from_frame(train_df, text_column, "train_df")
    y, names = _labels_from_frame(train_df, label_columns, "train_df", options)
    if isinstance(y, np.ndarray) and options["task"] is None and options["multilabel"] is None:
        options["multilabel"] = True  # several 0/1 columns with zero or several ones per row
    x_val = y_val = None
    if val_df is not None:
        x_val = _texts_from_frame(val_df, text_column, "val_df")
        y_val, _ = _labels_from_frame(val_df, label_columns, "val_df", options)
        if isinstance(y, np.ndarray) != isinstance(y_val, np.ndarray):
            y_val = np.eye(len(names), dtype=np.float32)[y_val] if isinstance(y, np.ndarray) else y_val
    return _build(
        x,
        y,
        x_val,
        y_val,
        model=_model_name(model, preprocess_mode),
        maxlen=maxlen,
        class_names=class_names or names,
        val_pct=val_pct,
        random_state=random_state,
        verbose=verbose,
        batch_size=batch_size,
        task_options=options,
    )


def texts_from_csv(
    train_filepath: str | os.PathLike,
    text_column: str = "text",
    label_columns: Any = None,
    val_filepath: str | os.PathLike | None = None,
    maxlen: int | str = "auto",
    val_pct: float = 0.1,
    random_state: int | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    verbose: int = 1,
    *,
    model: Any = None,
    preprocess_mode: str | None = None,
    class_names: Sequence | None = None,
    batch_size: int | None = None,
    task: Any = None,
    multilabel: bool | None = None,
    scale_targets: bool = False,
    **ktrain_only: Any,
) -> tuple:
    """A CSV/TSV/JSONL file -> ``(trn, val, preproc)`` (separator from the extension or ``sep``)."""
    train_df = read_table(train_filepath, sep=sep, encoding=encoding)
    val_df = None if val_filepath is None else read_table(val_filepath, sep=sep, encoding=encoding)
    return texts_from_df(
        train_df,
        text_column,
        label_columns,
        val_df,
        maxlen=maxlen,
        val_pct=val_pct,
        random_state=random_state,
        verbose=verbose,
        model=model,
        preprocess_mode=preprocess_mode,
        class_names=class_names,
        batch_size=batch_size,
        task=task,
        multilabel=multilabel,
        scale_targets=scale_targets,
        **ktrain_only,
    )


def texts_from_folder(
    datadir: str | os.PathLike,
    classes: Sequence[str] | None = None,
    train_test_names: Sequence[str] = ("train", "test"),
    maxlen: int | str = "auto",
    val_pct: float = 0.1,
    random_state: int | None = None,
    encoding: str = "utf-8",
    verbose: int = 1,
    *,
    model: Any = None,
    preprocess_mode: str | None = None,
    batch_size: int | None = None,
    **ktrain_only: Any,
) -> tuple:
    """``datadir/train/<class>/*.txt`` (and ``datadir/test/<class>/``) -> ``(trn, val, preproc)``.

    Without a test folder, ``val_pct`` of the training files become validation data.
    """
    _ignore(ktrain_only)
    datadir = Path(datadir)
    train_name, test_name = train_test_names
    if not (datadir / train_name).is_dir():
        raise DataError(
            f"{datadir} has no '{train_name}' folder. Expected {datadir}/{train_name}/<class>/ "
            f"folders of text files (and optionally {datadir}/{test_name}/<class>/)."
        )
    x, y = read_folder(datadir / train_name, classes=classes, encoding=encoding)
    x_val = y_val = None
    if (datadir / test_name).is_dir():
        x_val, y_val = read_folder(datadir / test_name, classes=classes, encoding=encoding)
    return _build(
        x,
        y,
        x_val,
        y_val,
        model=_model_name(model, preprocess_mode),
        maxlen=maxlen,
        class_names=classes,
        val_pct=val_pct,
        random_state=random_state,
        verbose=verbose,
        batch_size=batch_size,
    )
