"""The three-line path: one call that loads, splits, fits, evaluates and returns a Predictor."""

from __future__ import annotations

import logging
import os
from typing import Any

from .bindings import bind
from .data import check_positive_int, read_table
from .errors import ConfigError, DataTypeError

logger = logging.getLogger(__name__)

__all__ = ["finetune"]


def finetune(
    data: Any,
    model: str | os.PathLike,
    *,
    text_column: str = "text",
    label_column: str = "label",
    val_data: Any = None,
    val_pct: float = 0.1,
    maxlen: int | str = "auto",
    epochs: int = 2,
    lr: float | str = 5e-5,
    batch_size: int = 32,
    class_names: list | None = None,
    seed: int | None = 0,
    verbose: int = 1,
    strategy: Any = None,
    mixed_precision: str | None = None,
    jit_compile: bool | None = None,
    backend: str | None = None,
    pooling: str = "auto",
) -> Any:
    """Fine-tune ``model`` on a DataFrame or a CSV/TSV/JSONL file and return a Predictor.

    Splits off ``val_pct`` of the rows (stratified) unless ``val_data`` is given, trains with
    :meth:`Learner.fit_onecycle`, evaluates on the validation rows and stores the scores in the
    predictor (``predictor.metrics``, saved with it). The learner stays available as
    ``predictor.learner`` for plots and further training.

    Parameters
    ----------
    data : pandas.DataFrame or path
        Training rows with ``text_column`` and ``label_column``.
    model : str or path
        Hub name or local model folder.
    val_data : DataFrame or path, optional
        Validation rows (same columns).
    lr : float or "auto"
        Peak learning rate; ``"auto"`` runs :meth:`Learner.lr_find` (100 batches, repeating
        small training data) and takes its ``min_div5`` suggestion (a fifth of the rate at the
        lowest loss; see ``docs/one-cycle.md``).
    seed : int, optional
        Fixes the validation split, the new head's initial weights, dropout and the order of the
        batches: the same call gives the same model (default 0; ``None``: a different run each
        time).
    strategy, mixed_precision, jit_compile :
        Distributed training, dtype policy and XLA, as in :func:`easytx.get_learner` (see
        ``docs/distributed.md``). The strategy is created before anything runs TensorFlow, so
        ``strategy="multi_worker"`` (or ``"auto"`` with ``TF_CONFIG`` set) works here; the
        model is built inside its scope. ``batch_size`` is the global batch.
    backend : {"auto", "keras3", "transformers"}, optional
        Model backend (see :func:`easytx.backend.choose_backend`); ``None`` takes
        ``EASYTX_BACKEND``, default ``"auto"`` (Keras 3 for the BERT family).
    pooling : {"auto", "mean", "cls"}
        What the classification head reads (see :meth:`Transformer.get_classifier`): ``"auto"``
        pools by mean for sentence-transformers models that do (all-MiniLM-L6-v2), else the first
        token.

    Returns
    -------
    Predictor

    Examples
    --------
    >>> import easytx
    >>> predictor = easytx.finetune("reviews.csv", "distilbert-base-uncased")  # doctest: +SKIP
    >>> predictor.save("my_predictor")  # doctest: +SKIP
    """
    from . import text
    from .distribute import resolve_strategy
    from .learner import get_learner
    from .predictor import get_predictor

    strategy = resolve_strategy(strategy)  # first: multi-worker set-up precedes any TF operation

    frame = _frame(data, "data")
    val_frame = None if val_data is None else _frame(val_data, "val_data")
    if not (lr == "auto" or (isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0)):
        raise ConfigError(f"`lr` must be a positive number or 'auto'. Received: lr={lr!r}")
    epochs = check_positive_int(epochs, "epochs")
    trn, val, preproc = text.texts_from_df(
        frame,
        text_column,
        [label_column],
        val_frame,
        maxlen=maxlen,
        val_pct=val_pct,
        random_state=seed,
        verbose=verbose,
        model=model,
        class_names=class_names,
        batch_size=batch_size,
    )
    learner = get_learner(
        preproc.get_classifier(
            seed=seed, strategy=strategy, mixed_precision=mixed_precision, backend=backend, pooling=pooling
        ),
        train_data=trn,
        val_data=val,
        batch_size=batch_size,
        seed=seed,
        strategy=strategy,
        jit_compile=jit_compile,
    )
    if lr == "auto":
        lr = learner.lr_find(verbose=verbose).min_div5
        logger.info("lr='auto': using %.2e from lr_find (min_div5)", lr)
    learner.fit_onecycle(lr, epochs, verbose=verbose)
    proba = learner.predict_proba(val)
    metrics = preproc.task.scores(val.y, proba, preproc.labels_)
    bind(learner.model, metrics=metrics)
    predictor = get_predictor(learner.model, preproc)
    predictor.learner = learner
    logger.info("Validation: %s", metrics)
    return predictor


def _frame(data: Any, name: str) -> Any:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_table(data)
    raise DataTypeError(
        f"`{name}` must be a pandas DataFrame or a path to a CSV/TSV/JSONL file. Received an "
        f"object of type {type(data).__name__}."
    )
