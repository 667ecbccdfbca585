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
) -> tuple:
    from .preprocess import Transformer

    if x_test is None:
        if not 0.0 < val_pct < 1.0:
            raise ConfigError(f"`val_pct` must lie in (0, 1). Received: val_pct={val_pct!r}")
        train, val = train_test_split(x_train, y_train, test_size=val_pct, random_state=random_state)
        x_train, y_train, x_test, y_test = train.texts, train.labels, val.texts, val.labels
    preproc = Transformer(
        model, maxlen=maxlen, class_names=class_names or None, batch_size=batch_size, verbose=verbose
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
    **ktrain_only: Any,
) -> tuple:
    """Texts and labels in lists/arrays -> ``(trn, val, preproc)``.

    Without ``x_test``, ``val_pct`` of the training rows (stratified) become validation data.
    ktrain-only arguments (``max_features``, ``ngram_range``, ``lang``) are accepted and ignored.
    """
    _ignore(ktrain_only)
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
    )


def _ignore(kwargs: dict) -> None:
    allowed = {"max_features", "ngram_range", "lang", "preprocess_mode", "is_regression"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ConfigError(f"Unexpected argument(s): {unknown}.")
    if kwargs.get("is_regression"):
        raise ConfigError("is_regression=True is not supported by this loader yet.")


def _labels_from_frame(frame: Any, label_columns: Any, where: str) -> tuple[list, list | None]:
    """Return (labels, class_names) from one label column or several one-hot 0/1 columns."""
    if isinstance(label_columns, str):
        label_columns = [label_columns]
    if not label_columns:
        raise ConfigError("`label_columns` is required: the column(s) holding the labels.")
    check_columns(frame, label_columns, where=where)
    if len(label_columns) == 1:
        return frame[label_columns[0]].tolist(), None
    block = frame[list(label_columns)].apply(lambda col: col.astype(float)).to_numpy()
    if not np.isin(block, (0.0, 1.0)).all():
        raise DataError(f"Label columns {label_columns} must hold 0/1 values (one-hot).")
    counts = block.sum(axis=1)
    if (counts != 1).any():
        row = int(np.flatnonzero(counts != 1)[0])
        raise DataError(
            f"Row {row} of {where} has {int(counts[row])} labels set among {label_columns}; "
            "single-label classification needs exactly one per row."
        )
    return [int(i) for i in block.argmax(axis=1)], [str(c) for c in label_columns]


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
    **ktrain_only: Any,
) -> tuple:
    """A pandas DataFrame -> ``(trn, val, preproc)``.

    ``label_columns`` is one column of class values, or several 0/1 columns (one-hot, the
    column names become the classes), as in ktrain.
    """
    _ignore(ktrain_only)
    check_unique_columns(train_df, "train_df")
    check_columns(train_df, [text_column], where="train_df")
    y, names = _labels_from_frame(train_df, label_columns, "train_df")
    x = train_df[text_column].tolist()
    x_val = y_val = None
    if val_df is not None:
        check_columns(val_df, [text_column], where="val_df")
        x_val = val_df[text_column].tolist()
        y_val, _ = _labels_from_frame(val_df, label_columns, "val_df")
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
