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
from .encoders.config import TOKEN_HEAD_KEY
from .errors import ConfigError, DataError

if TYPE_CHECKING:  # imported lazily at run time (they load TensorFlow)
    from .embeddings import TransformerEmbedding
    from .preprocess import Transformer, TransformerDataset
    from .tagger import TaggingTransformer

logger = logging.getLogger(__name__)

__all__ = [
    "Transformer",
    "TransformerDataset",
    "texts_from_array",
    "texts_from_df",
    "texts_from_csv",
    "texts_from_folder",
    "TaggingTransformer",
    "TransformerEmbedding",
    "entities_from_array",
    "entities_from_conll2003",
    "entities_from_df",
    "entities_from_txt",
    "sequence_tagger",
]

_MODES = {"bert": "bert-base-uncased", "distilbert": "distilbert-base-uncased"}


def __getattr__(name: str) -> Any:  # TensorFlow loads on first use, not on import
    if name in ("Transformer", "TransformerDataset"):
        from . import preprocess

        return getattr(preprocess, name)
    if name == "TaggingTransformer":
        from .tagger import TaggingTransformer

        return TaggingTransformer
    if name == "TransformerEmbedding":
        from .embeddings import TransformerEmbedding

        return TransformerEmbedding
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


# ---------------------------------------------------------------------------------------- tagging
_KTRAIN_TAGGERS = ("transformer", "bilstm-transformer", "bilstm-bert")
_WORD_VECTOR_TAGGERS = ("bilstm", "bilstm-crf", "bilstm-elmo", "bilstm-crf-elmo")


def _tagging_model(model: Any, transformer_model: Any = None) -> Any:
    model = model if model is not None else transformer_model
    if model is None:
        raise ConfigError(
            "Pass model=... (a hub name such as 'bert-base-cased' or a local model folder): easytx "
            "tags words with a pretrained transformer."
        )
    return model


def _ignore_tagging(kwargs: dict) -> None:
    unknown = sorted(set(kwargs) - {"use_char", "data_format"})
    if unknown:
        raise ConfigError(f"Unexpected argument(s): {unknown}.")
    if kwargs.get("use_char"):
        raise ConfigError(
            "use_char=True (character embeddings) is not supported: the transformer's sub-words do that."
        )


def entities_from_array(
    x_train: Sequence,
    y_train: Sequence,
    x_test: Sequence | None = None,
    y_test: Sequence | None = None,
    val_pct: float = 0.1,
    verbose: int = 1,
    *,
    model: Any = None,
    maxlen: int | str = "auto",
    tag_scheme: str = "auto",
    random_state: int | None = None,
    batch_size: int | None = None,
    **ktrain_only: Any,
) -> tuple:
    """Sentences as word lists and their tags -> ``(trn, val, preproc)`` for token classification.

    Without ``x_test``, ``val_pct`` of the sentences (at random, ``random_state``) become
    validation data. ``preproc`` is a fitted :class:`~easytx.tagger.TaggingTransformer`.

    Examples
    --------
    >>> trn, val, preproc = text.entities_from_array(
    ...     [["EU", "rejects", "German", "call"]] * 20, [["B-ORG", "O", "B-MISC", "O"]] * 20,
    ...     model="bert-base-cased")  # doctest: +SKIP
    """
    from .tagger import build_tagged

    _ignore_tagging(ktrain_only)
    return build_tagged(
        x_train,
        y_train,
        x_test,
        y_test,
        model=_tagging_model(model),
        maxlen=maxlen,
        val_pct=val_pct,
        random_state=random_state,
        tag_scheme=tag_scheme,
        batch_size=batch_size,
        verbose=verbose,
    )


def entities_from_txt(
    train_filepath: str | os.PathLike,
    val_filepath: str | os.PathLike | None = None,
    word_column: int = 0,
    tag_column: int = -1,
    encoding: str | None = None,
    val_pct: float = 0.1,
    verbose: int = 1,
    *,
    model: Any = None,
    maxlen: int | str = "auto",
    tag_scheme: str = "auto",
    sep: str | None = None,
    random_state: int | None = None,
    batch_size: int | None = None,
    **ktrain_only: Any,
) -> tuple:
    """CoNLL-style files (``word ... TAG`` per line, blank line between sentences) ->
    ``(trn, val, preproc)``; see :func:`easytx.tagging.read_conll` for the format and its errors.
    """
    from .tagging import read_conll

    options = {
        "word_column": word_column,
        "tag_column": tag_column,
        "sep": sep,
        "encoding": encoding or "utf-8",
    }
    x, y = read_conll(train_filepath, **options)
    x_val = y_val = None
    if val_filepath is not None:
        x_val, y_val = read_conll(val_filepath, **options)
    return entities_from_array(
        x,
        y,
        x_val,
        y_val,
        val_pct=val_pct,
        verbose=verbose,
        model=model,
        maxlen=maxlen,
        tag_scheme=tag_scheme,
        random_state=random_state,
        batch_size=batch_size,
        **ktrain_only,
    )


def entities_from_conll2003(
    train_filepath: str | os.PathLike,
    val_filepath: str | os.PathLike | None = None,
    encoding: str | None = None,
    val_pct: float = 0.1,
    verbose: int = 1,
    *,
    model: Any = None,
    maxlen: int | str = "auto",
    tag_scheme: str = "auto",
    random_state: int | None = None,
    batch_size: int | None = None,
    **ktrain_only: Any,
) -> tuple:
    """CoNLL-2003 files (``word POS chunk NER-tag``) -> ``(trn, val, preproc)`` (ktrain's name).

    Examples
    --------
    >>> trn, val, preproc = text.entities_from_conll2003(
    ...     "eng.train", val_filepath="eng.testa", model="bert-base-cased", maxlen=64)  # doctest: +SKIP
    """
    return entities_from_txt(
        train_filepath,
        val_filepath,
        word_column=0,
        tag_column=-1,
        encoding=encoding,
        val_pct=val_pct,
        verbose=verbose,
        model=model,
        maxlen=maxlen,
        tag_scheme=tag_scheme,
        random_state=random_state,
        batch_size=batch_size,
        **ktrain_only,
    )


def entities_from_df(
    train_df: Any,
    val_df: Any = None,
    word_column: str = "Word",
    tag_column: str = "Tag",
    sentence_column: str = "SentenceID",
    val_pct: float = 0.1,
    verbose: int = 1,
    *,
    model: Any = None,
    maxlen: int | str = "auto",
    tag_scheme: str = "auto",
    random_state: int | None = None,
    batch_size: int | None = None,
    **ktrain_only: Any,
) -> tuple:
    """A DataFrame of ``(sentence id, word, tag)`` rows -> ``(trn, val, preproc)`` (ktrain's name).

    Rows of a sentence must be contiguous and in order; an id given only on a sentence's first
    row is carried forward (the Kaggle NER layout).
    """
    from .tagging import read_tagged_frames

    x, y, x_val, y_val = read_tagged_frames(
        train_df, val_df, sentence_column=sentence_column, word_column=word_column, tag_column=tag_column
    )
    return entities_from_array(
        x,
        y,
        x_val,
        y_val,
        val_pct=val_pct,
        verbose=verbose,
        model=model,
        maxlen=maxlen,
        tag_scheme=tag_scheme,
        random_state=random_state,
        batch_size=batch_size,
        **ktrain_only,
    )


def sequence_tagger(
    name: str,
    preproc: Any,
    *,
    transformer_model: Any = None,
    bert_model: Any = None,
    transformer_layers_to_use: Sequence[int] = (-2,),
    word_embedding_dim: int = 100,
    word_lstm_size: int = 100,
    fc_dim: int = 100,
    dropout: float = 0.5,
    wv_path_or_url: Any = None,
    **kwargs: Any,
) -> Any:
    """Build the token-classification model for ``preproc`` (ktrain's ``sequence_tagger``).

    Parameters
    ----------
    name : {"transformer", "bilstm-transformer", "bilstm-bert"}
        ``"transformer"`` fine-tunes the transformer with a linear tag layer (easytx's default,
        see ``docs/ner.md``). ``"bilstm-transformer"`` (alias ``"bilstm-bert"``) is ktrain's
        tagger: the transformer stays frozen and a BiLSTM reads, for each word, its hidden
        states ``transformer_layers_to_use`` with a ``word_embedding_dim`` embedding of the
        training words (``0``: none), through dropout ``dropout``; ``word_lstm_size`` units per
        direction, a ``fc_dim`` tanh layer, the tag layer; it trains with ktrain's recipe
        (``learner.fit(0.01, ...)``) on easytx's Keras 3 encoders (BERT, RoBERTa, DistilBERT,
        ELECTRA families). ktrain's word-vector taggers (``"bilstm"``, ``"bilstm-crf"`` and the
        ELMo ones) are not offered: the error says what to use.
    preproc : TaggingTransformer
        From ``entities_from_conll2003/_txt/_df/_array``.
    transformer_model, bert_model : str, optional
        ktrain's way to name the model; easytx takes it from ``preproc`` (it must match).
    wv_path_or_url : None
        fastText vectors (ktrain) are not supported; pass ``None``.
    **kwargs
        To :meth:`TaggingTransformer.get_classifier` (``seed=``, ``pretrained=``, config overrides).
    """
    from .tagger import TaggingTransformer

    spec = tagger_head(
        name,
        transformer_layers_to_use=transformer_layers_to_use,
        word_embedding_dim=word_embedding_dim,
        word_lstm_size=word_lstm_size,
        fc_dim=fc_dim,
        dropout=dropout,
        wv_path_or_url=wv_path_or_url,
    )
    if not isinstance(preproc, TaggingTransformer):
        raise ConfigError(
            "`preproc` must come from text.entities_from_conll2003/_txt/_df/_array (a TaggingTransformer). "
            f"Received: {type(preproc).__name__}."
        )
    transformer_model = transformer_model if transformer_model is not None else bert_model
    if transformer_model is not None and str(transformer_model) != preproc.model_name:
        raise ConfigError(
            f"transformer_model={transformer_model!r} differs from the preprocessor's model "
            f"{preproc.model_name!r}; pass model=... to the entities_from_* loader instead."
        )
    if spec is not None:
        kwargs[TOKEN_HEAD_KEY] = spec
    return preproc.get_classifier(**kwargs)


def tagger_head(
    name: str,
    *,
    transformer_layers_to_use: Sequence[int] = (-2,),
    word_embedding_dim: int = 100,
    word_lstm_size: int = 100,
    fc_dim: int = 100,
    dropout: float = 0.5,
    wv_path_or_url: Any = None,
) -> dict | None:
    """The model config entry for ktrain tagger ``name`` (``None``: the linear head).

    Raises
    ------
    ConfigError
        ``name`` is unknown, or is one of ktrain's word-vector or ELMo taggers.
    """
    if name not in _KTRAIN_TAGGERS:
        if name in _WORD_VECTOR_TAGGERS:
            vectors = "word vectors (random or fastText" + (", and ELMo)" if "elmo" in name else ")")
            raise ConfigError(
                f"ktrain's {name!r} tagger reads {vectors} without a transformer, which easytx does "
                "not have. Use 'bilstm-transformer' (ktrain's BiLSTM on transformer features, "
                "trained with ktrain's recipe) or 'transformer' (the transformer fine-tuned)."
            )
        raise ConfigError(f"Unknown tagger {name!r}; expected one of {list(_KTRAIN_TAGGERS)}.")
    if wv_path_or_url is not None:
        raise ConfigError(
            f"wv_path_or_url={wv_path_or_url!r}: fastText word vectors are not supported; the "
            "transformer's features take their place. Pass wv_path_or_url=None."
        )
    if name == "transformer":
        return None
    layers = (
        [transformer_layers_to_use]
        if isinstance(transformer_layers_to_use, int)
        else transformer_layers_to_use
    )
    return {
        "kind": "bilstm",
        "word_embedding_dim": word_embedding_dim,
        "lstm_units": word_lstm_size,
        "fc_dim": fc_dim,
        "dropout": dropout,
        "layers": [int(i) for i in layers],
    }
