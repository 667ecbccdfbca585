"""``tune``: k-fold cross-validation of the fine-tuning recipe plus a small hyperparameter search.

What people mean by "tune the model with k=3": every candidate recipe (learning rate, epochs, batch
size, maximum length, weight decay) is fine-tuned ``k`` times from the same pretrained weights, each
time on ``k - 1`` stratified folds of the training data, and scored on the held-out fold; the recipe
with the best mean score is then fine-tuned once more on all the training data. The test split is
scored once, at the very end, and never used for a choice.

The search is a plain grid without extra packages; ``search="optuna"`` (``pip install
'easytx-nlp[tune]'``) samples with Optuna's TPE sampler and accepts continuous :class:`Range` values.

The function is exported as ``easytx.tune``; this module is ``easytx.tuning`` so that importing it
never shadows the function on the package.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import math
import numbers
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _env  # noqa: F401
from ._keras import optimizer_variables
from .bindings import bind, preproc_of
from .data import TextData, _stratify_key, check_labels_length, check_positive_int, check_texts
from .errors import (
    ConfigError,
    DataError,
    DataTypeError,
    MissingDependencyError,
    closest_match_hint,
)

logger = logging.getLogger(__name__)

__all__ = ["tune", "TuneResult", "Range", "HYPERPARAMETERS"]

#: the hyperparameters ``tune`` searches, in table order
HYPERPARAMETERS = ("lr", "epochs", "batch_size", "maxlen", "weight_decay")
_INT_PARAMS = ("epochs", "batch_size", "maxlen")
_CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "loss")
# lr="auto": lr_find's min_div10 suggestion s (a tenth of the lr at the lowest loss) is the top of
# the safe range; going above it diverged on real data (MiniLM on code snippets: 2s scored 0.31
# against 0.65 for s), so the candidates go down from it.
_GRID_LR_FACTORS = (1.0, 0.5, 0.25)
_OPTUNA_LR_LOW = 0.1  # lr="auto" with optuna: log-uniform in [s / 10, s]
_OPTUNA_DEFAULT_TRIALS = 10


@dataclasses.dataclass(frozen=True)
class Range:
    """A continuous (or integer) interval to sample from; needs ``search="optuna"``.

    Parameters
    ----------
    low, high : number
        Bounds, both included. Integer bounds for ``epochs``, ``batch_size`` and ``maxlen``.
    log : bool
        Sample on a log scale (natural for ``lr`` and ``batch_size``).

    Examples
    --------
    >>> Range(1e-5, 1e-4, log=True)
    Range(low=1e-05, high=0.0001, log=True)
    """

    low: float
    high: float
    log: bool = False


@dataclasses.dataclass
class TuneResult:
    """What :func:`tune` found.

    Attributes
    ----------
    trials : pandas.DataFrame
        One row per trial: the hyperparameters, the metric on each fold (``fold_1`` ...
        ``fold_k``), its ``mean`` and ``std`` over the folds (population std, as scikit-learn's
        ``cv_results_``), the mean and std of every other score (``loss_mean`` ...), and seconds.
    folds : pandas.DataFrame
        One row per (trial, fold): rows trained on and scored, every score, seconds.
    best_params : dict
        The winning hyperparameters (``maxlen`` resolved to the chosen number of tokens).
    best_trial : int
        Its trial number (1-based) in :attr:`trials`.
    metric : str
        The metric that chose it (``"accuracy"``, ``"macro_f1"`` or ``"loss"``).
    best_mean, best_std : float
        Its mean and std over the ``k`` folds.
    k : int
        Number of folds.
    learner : Learner or None
        Fine-tuned on all training data with :attr:`best_params` (``None`` with ``refit=False``).
        Its ``val_data`` is the test split once that has been scored.
    predictor : Predictor or None
        The learner's model with its preprocessor, metrics attached; ``result.save(folder)`` saves it.
    preproc : Transformer or None
        The preprocessor with the winning maximum length.
    test_scores : dict or None
        Scores on ``test`` (computed once, after the refit), or ``None`` without ``test``.
    lr_suggestions : LRSuggestions or None
        What :meth:`Learner.lr_find` suggested when ``lr="auto"``.
    seconds : float
        Wall time of the whole call.
    """

    trials: Any
    folds: Any
    best_params: dict
    best_trial: int
    metric: str
    best_mean: float
    best_std: float
    k: int
    learner: Any = None
    predictor: Any = None
    preproc: Any = None
    test_scores: dict | None = None
    lr_suggestions: Any = None
    seconds: float = 0.0

    def __repr__(self) -> str:
        test = "" if self.test_scores is None else f", test {self.metric}={self.test_scores[self.metric]:.4f}"
        return (
            f"TuneResult({len(self.trials)} trials x {self.k} folds, best trial {self.best_trial}: "
            f"{self.metric}={self.best_mean:.4f} ± {self.best_std:.4f}{test}, "
            f"best_params={self.best_params})"
        )

    def summary(self) -> str:
        """The trial table, the winner and the test scores as text."""
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 50):
            table = self.trials.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        lines = [
            table,
            f"best: trial {self.best_trial}, {self.metric} {self.best_mean:.4f} ± {self.best_std:.4f} "
            f"over {self.k} folds: {_fmt_params(self.best_params)}",
        ]
        if self.test_scores is not None:
            scores = ", ".join(f"{name}={value:.4f}" for name, value in self.test_scores.items())
            lines.append(f"test (scored once): {scores}")
        return "\n".join(lines)

    def save(self, folder: str | os.PathLike) -> Any:
        """Save the refitted predictor (see :meth:`Predictor.save`); returns the folder path."""
        if self.predictor is None:
            raise ConfigError("This result has no refitted model (tune(..., refit=False)); nothing to save.")
        return self.predictor.save(folder)


# --------------------------------------------------------------------------- option checks
def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(name: str, value: Any) -> Any:
    """One candidate value of hyperparameter ``name``, checked and normalised."""
    if name == "lr":
        if not _is_number(value) or value <= 0:
            raise ConfigError(f"`lr` candidates must be positive numbers (or lr='auto'). Received: {value!r}")
        return float(value)
    if name == "weight_decay":
        if not _is_number(value) or value < 0:
            raise ConfigError(f"`weight_decay` candidates must be numbers >= 0. Received: {value!r}")
        return float(value)
    if name == "maxlen" and value == "auto":
        return "auto"
    return check_positive_int(value, name)


def _check_range(name: str, value: Range) -> Range:
    if not (_is_number(value.low) and _is_number(value.high)) or value.low >= value.high:
        raise ConfigError(
            f"`{name}`={value!r}: a Range needs two numbers with low < high. "
            f"Received low={value.low!r}, high={value.high!r}."
        )
    if name in _INT_PARAMS and not all(float(v).is_integer() for v in (value.low, value.high)):
        raise ConfigError(f"`{name}` takes whole numbers; its Range bounds must be ints. Received {value!r}.")
    if value.log and value.low <= 0:
        raise ConfigError(f"`{name}`={value!r}: a log-scale Range needs low > 0.")
    for bound in (value.low, value.high):
        _check_value(name, int(bound) if name in _INT_PARAMS else bound)
    return value


def _space(name: str, value: Any, search: str) -> Any:
    """A hyperparameter's candidates: a non-empty list, a Range (optuna), or "auto" (lr)."""
    if isinstance(value, Range):
        if search != "optuna":
            raise ConfigError(
                f"`{name}`={value!r} is a continuous range; the grid search needs a list of values. "
                f"Pass {name}=[...] or search='optuna' (pip install 'easytx-nlp[tune]')."
            )
        return _check_range(name, value)
    if name == "lr" and value == "auto":
        return "auto"
    if isinstance(value, (list, tuple, np.ndarray)):
        values = list(value)
        if not values:
            raise ConfigError(
                f"The search space is empty: `{name}`={value!r} gives no value to try. Pass at least "
                f"one value, e.g. {name}=[{_EXAMPLES[name]}]."
            )
        values = [_check_value(name, v) for v in values]
        return list(dict.fromkeys(values))  # drop repeats, keep order
    return [_check_value(name, value)]


_EXAMPLES = {"lr": "5e-5", "epochs": "3", "batch_size": "16", "maxlen": "128", "weight_decay": "0.01"}


def _check_budget(trials: Any, timeout: Any) -> tuple[int | None, float | None]:
    if trials is not None:
        if isinstance(trials, bool) or not isinstance(trials, numbers.Integral) or trials < 1:
            raise ConfigError(
                f"`trials` must be a positive int (or None for the whole grid). Received: trials={trials!r}. "
                "A budget of 0 trials would train nothing."
            )
        trials = int(trials)
    if timeout is not None:
        if not _is_number(timeout) or timeout <= 0:
            raise ConfigError(
                f"`timeout` must be a positive number of seconds (or None). Received: timeout={timeout!r}. "
                "A budget of 0 seconds would train nothing."
            )
        timeout = float(timeout)
    return trials, timeout


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError(
            "search='optuna' needs the optional package optuna. Install it with: "
            "pip install 'easytx-nlp[tune]' (or pip install optuna), or use search='grid' with lists of "
            "values."
        ) from None
    return optuna


# --------------------------------------------------------------------------- data
def _texts_and_labels(data: Any, name: str, base: Any) -> tuple[list, list, Any]:
    """(texts, labels, dataset or None) from TextData, a TransformerDataset or (texts, labels)."""
    from .preprocess import TransformerDataset

    if isinstance(data, TextData):
        if data.labels is None:
            raise DataError(f"`{name}` has no labels; tune needs one label per text to score folds.")
        texts = check_texts(data.texts, name=f"{name} texts", allow_pairs=True)
        return texts, check_labels_length(texts, data.labels, name=f"{name} labels"), None
    if isinstance(data, TransformerDataset):
        if data.y is None:
            raise DataError(f"`{name}` has no labels; pass y=... to preprocess_train()/preprocess_test().")
        if base is None or not hasattr(base, "labels_"):
            raise DataTypeError(
                f"`{name}` is a preprocessed dataset, but `model` is a name or an unfitted Transformer, "
                "so its label ids cannot be read back. Pass the fitted Transformer (or the model from "
                "its get_classifier()) as `model`, or pass the TextData instead."
            )
        return list(data.texts), base.labels_.inverse_transform(data.y), data
    if isinstance(data, tuple) and len(data) == 2:
        texts = check_texts(data[0], name=f"{name} texts", allow_pairs=True)
        return texts, check_labels_length(texts, data[1], name=f"{name} labels"), None
    raise DataTypeError(
        f"`{name}` must be a TextData (from easytx.train_test_split), a dataset from "
        "Transformer.preprocess_train()/preprocess_test(), or a (texts, labels) tuple. "
        f"Received an object of type {type(data).__name__}."
    )


def _folds(labels: list, k: Any, seed: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(labels)
    if k > n:
        raise DataError(f"k={k} folds need at least {k} training rows; received {n}. Use a smaller k.")
    key = _stratify_key(labels)
    index = np.arange(n)
    if key is None:
        return list(KFold(k, shuffle=True, random_state=seed).split(index))
    counts: dict[str, int] = {}
    for value in key:
        counts[value] = counts.get(value, 0) + 1
    smallest = min(counts, key=counts.get)
    if counts[smallest] < k:
        raise DataError(
            f"k={k} stratified folds need at least {k} examples of every class, but class "
            f"{smallest!r} has {counts[smallest]}. Use k <= {counts[smallest]}, or add examples of "
            "that class."
        )
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(index, key))


def _evaluate(model: Any, task: Any, data: Any, batch_size: int) -> dict:
    """Scores of ``model`` on labelled ``data``: the task's scores plus the mean loss."""
    from .inference import predict_logits

    logits = predict_logits(model, data, batch_size=batch_size)
    proba = task.probabilities(logits)
    scores = dict(task.scores(data.y, proba)) if hasattr(task, "scores") else {}
    scores["loss"] = float(np.mean(task.per_example_loss(data.y, logits)))
    return {name: float(value) for name, value in scores.items()}


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _fmt_params(params: dict) -> str:
    return " ".join(f"{name}={_fmt(params[name])}" for name in HYPERPARAMETERS if name in params)


def _round_lr(value: float) -> float:
    return float(f"{value:.3g}")


# --------------------------------------------------------------------------- the search
class _Search:
    """Hands out trial parameters from a grid or an Optuna study, within the trial budget."""

    def __init__(self, space: dict, search: str, trials: int | None, direction: str, seed: int | None):
        self.space = space
        self.kind = search
        self.study = None
        if search == "grid":
            names = list(space)
            grid = [dict(zip(names, combo)) for combo in itertools.product(*(space[n] for n in names))]
            if trials is not None and trials < len(grid):
                rng = np.random.default_rng(seed)
                picked = rng.choice(len(grid), size=trials, replace=False)
                logger.info(
                    "tune: the grid has %d points and the budget is %d trial(s): trying %d points "
                    "drawn at random (seed=%s).",
                    len(grid),
                    trials,
                    trials,
                    seed,
                )
                grid = [grid[int(i)] for i in picked]
            self.grid = grid
            self.total: int | None = len(grid)
        else:
            optuna = _import_optuna()
            sampler = optuna.samplers.TPESampler(seed=seed)
            verbosity = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(optuna.logging.WARNING)  # its "study created" line
            try:
                self.study = optuna.create_study(direction=direction, sampler=sampler)
            finally:
                optuna.logging.set_verbosity(verbosity)
            self.total = trials if trials is not None else None
        self._pending: Any = None

    def __iter__(self):
        if self.kind == "grid":
            yield from self.grid
            return
        count = 0
        while self.total is None or count < self.total:
            trial = self.study.ask()
            self._pending = trial
            yield {name: self._suggest(trial, name, choice) for name, choice in self.space.items()}
            count += 1

    @staticmethod
    def _suggest(trial: Any, name: str, choice: Any) -> Any:
        if isinstance(choice, Range):
            if name in _INT_PARAMS:
                return trial.suggest_int(name, int(choice.low), int(choice.high), log=choice.log)
            return trial.suggest_float(name, float(choice.low), float(choice.high), log=choice.log)
        if len(choice) == 1:
            return choice[0]
        return trial.suggest_categorical(name, choice)

    def tell(self, value: float) -> None:
        if self.study is not None and self._pending is not None:
            self.study.tell(self._pending, value)
            self._pending = None


# --------------------------------------------------------------------------- tune
def tune(
    model: Any,
    train: Any,
    test: Any = None,
    *,
    k: int = 3,
    lr: float | Sequence[float] | Range | str = "auto",
    epochs: int | Sequence[int] | Range = 3,
    batch_size: int | Sequence[int] | Range | None = None,
    maxlen: int | str | Sequence | Range | None = None,
    weight_decay: float | Sequence[float] | Range = 0.01,
    trials: int | None = None,
    timeout: float | None = None,
    search: str = "grid",
    metric: str = "accuracy",
    lr_find_steps: int = 100,
    refit: bool = True,
    seed: int | None = 0,
    verbose: int = 1,
) -> TuneResult:
    """Cross-validate the fine-tuning recipe over ``k`` folds while searching its hyperparameters.

    Every trial fine-tunes ``k`` times from the same starting weights (on ``k - 1`` stratified folds,
    with the one-cycle policy) and scores the held-out fold; the trial with the best mean wins and
    is fine-tuned once more on all of ``train``. ``test`` is scored once, after that, and never
    influences a choice.

    Each hyperparameter takes one value (fixed), a list (the candidates) or, with
    ``search="optuna"``, a :class:`Range`.

    Parameters
    ----------
    model : str, path, Transformer, or model from ``Transformer.get_classifier()``
        What to fine-tune. A hub name or folder; a :class:`~easytx.text.Transformer` (its model,
        class names, ``maxlen`` and ``batch_size`` are the defaults); or a classifier from
        ``t.get_classifier()``, whose current weights are the starting point of every fold (they
        are restored before each fit) and which ends up holding the refitted weights.
    train : TextData, TransformerDataset or (texts, labels)
        Training data; the folds are cut from it. A :class:`~easytx.TextData` lends its batch size.
    test : same types, optional
        Held-out data, scored once at the end with the refitted model.
    k : int
        Number of folds (2 <= k <= the smallest class count).
    lr : float, list, Range or "auto"
        Peak learning rate of the one-cycle schedule. ``"auto"`` runs :meth:`Learner.lr_find`
        once (on the first fold's training part) and tries its ``min_div10`` suggestion, half
        and a quarter of it (Optuna: log-uniform between a tenth of it and it).
    epochs, batch_size, maxlen, weight_decay : value, list or Range
        ``batch_size=None``: the data's batch size (``train.batch(n)``), else the preprocessor's,
        else 32. ``maxlen=None``: the preprocessor's (``"auto"`` for a bare model name). Each
        distinct ``maxlen`` tokenizes the training texts once.
    trials : int, optional
        Budget: at most this many trials. The grid tries every point by default, or ``trials``
        points drawn at random; Optuna defaults to 10.
    timeout : float, optional
        Budget in seconds: no trial starts after this (a started trial finishes). The refit comes
        on top.
    search : {"grid", "optuna"}
        ``"optuna"`` needs ``pip install 'easytx-nlp[tune]'``.
    metric : {"accuracy", "macro_f1", "loss"}
        What picks the winner (loss: lower is better).
    lr_find_steps : int
        Batches in the ``lr="auto"`` sweep.
    refit : bool
        Fine-tune the winner on all training data (needed to score ``test``).
    seed : int, optional
        Fixes the folds, the grid sampling, the new head's weights and the data order.
    verbose : int
        ``1``: one log line (logger ``easytx.tuning``, level INFO) per fold and per trial and a
        final table; ``2``: Keras progress bars too; ``0``: the lines go to DEBUG.

    Returns
    -------
    TuneResult
        ``.trials`` (DataFrame), ``.best_params``, ``.learner``, ``.predictor``, ``.test_scores``.

    Raises
    ------
    ConfigError
        ``k < 2``, an empty list of candidates, ``trials=0`` or ``timeout=0``, an unknown metric,
        a Range without ``search="optuna"``.
    DataError
        ``k`` larger than the smallest class count, unlabelled data.
    MissingDependencyError
        ``search="optuna"`` without optuna installed.

    Examples
    --------
    >>> train, test = easytx.train_test_split(texts, labels, random_state=0)  # doctest: +SKIP
    >>> result = easytx.tune("microsoft/codebert-base", train.shuffle(0).batch(16), test, k=3,
    ...                      epochs=[2, 3], trials=4)  # doctest: +SKIP
    >>> result.trials  # doctest: +SKIP
    >>> result.save("codebert_lang")  # doctest: +SKIP
    """
    started = time.perf_counter()
    # ---- options: all checked before anything heavy loads
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
        raise ConfigError(
            f"`k` must be an int >= 2 (the number of cross-validation folds). Received: k={k!r}"
        )
    k = int(k)
    if search not in ("grid", "optuna"):
        raise ConfigError(f"`search` must be 'grid' or 'optuna'. Received: search={search!r}")
    if search == "optuna":
        _import_optuna()
    trials, timeout = _check_budget(trials, timeout)
    if not isinstance(metric, str):
        raise ConfigError(f"`metric` must be a string such as 'accuracy'. Received: {metric!r}")
    lr_find_steps = check_positive_int(lr_find_steps, "lr_find_steps")
    given = {"lr": lr, "epochs": epochs, "batch_size": batch_size, "maxlen": maxlen}
    given["weight_decay"] = weight_decay
    space = {name: _space(name, value, search) for name, value in given.items() if value is not None}
    if test is not None and not refit:
        raise ConfigError(
            "`test` is scored with the model refitted on all training data; with refit=False there "
            "is none. Pass refit=True, or leave test out."
        )
    log_level = logging.INFO if verbose else logging.DEBUG

    # ---- what to fine-tune, on which data, over which folds
    base, start_model = _resolve_model(model)
    if base.task.name == "classification" and metric not in _CLASSIFICATION_METRICS:
        raise ConfigError(
            f"Unknown `metric` {metric!r}; expected one of {list(_CLASSIFICATION_METRICS)}."
            + closest_match_hint(metric, _CLASSIFICATION_METRICS)
        )
    # each task declares which way its metrics improve (mae, rmse and loss are errors)
    direction = "minimize" if base.task.direction(metric) == "min" else "maximize"
    texts, labels, given_train = _texts_and_labels(train, "train", base)
    if test is not None:
        test_texts, test_labels, _ = _texts_and_labels(test, "test", base)
    folds = _folds(labels, k, seed)
    if "batch_size" not in space:
        space["batch_size"] = [getattr(train, "batch_size", None) or base.batch_size or 32]
    if "maxlen" not in space:
        space["maxlen"] = [base.maxlen_ if hasattr(base, "labels_") else base.maxlen]
    space = {name: space[name] for name in HYPERPARAMETERS}
    bench = _Bench(base, start_model, texts, labels, given_train, seed=seed, fit_verbose=int(verbose >= 2))

    # ---- lr="auto": seed the candidates with the lr finder (first fold's training part only)
    lr_suggestions = None
    if space["lr"] == "auto":
        lr_suggestions = bench.lr_find(space, folds[0][0], lr_find_steps)
        s = lr_suggestions.min_div10
        if lr_suggestions.min_loss <= lr_suggestions.lrs[min(2, len(lr_suggestions.lrs) - 1)]:
            logger.warning(
                "tune: lr_find saw its lowest loss at the very start of the sweep (lr=%.1e), so its "
                "suggestion %.1e is unreliable (too few steps or too little data?). Pass lr=[...] "
                "or a larger lr_find_steps.",
                lr_suggestions.min_loss,
                s,
            )
        if search == "grid":
            space["lr"] = list(dict.fromkeys(_round_lr(s * f) for f in _GRID_LR_FACTORS))
        else:
            space["lr"] = Range(s * _OPTUNA_LR_LOW, s, log=True)
        shown = space["lr"] if isinstance(space["lr"], Range) else [f"{v:.2e}" for v in space["lr"]]
        logger.log(log_level, "tune: lr_find suggests %.2e (min_div10); lr candidates: %s", s, shown)

    # ---- the trials
    if search == "optuna" and trials is None and timeout is None:
        trials = _OPTUNA_DEFAULT_TRIALS
        logger.log(log_level, "tune: no budget given; Optuna runs %d trials.", trials)
    searcher = _Search(space, search, trials, direction, seed)
    total = "?" if searcher.total is None else str(searcher.total)
    trial_rows: list[dict] = []
    fold_rows: list[dict] = []
    best: dict | None = None
    for number, params in enumerate(searcher, start=1):
        if timeout is not None and number > 1 and time.perf_counter() - started >= timeout:
            logger.log(
                log_level, "tune: time budget of %.0f s reached after %d trial(s).", timeout, number - 1
            )
            break
        label = f"trial {number}/{total}"
        row, rows = bench.cross_validate(dict(params), folds, metric, label, log_level)
        searcher.tell(row["mean"])
        row = {"trial": number} | row
        trial_rows.append(row)
        fold_rows += [{"trial": number} | r for r in rows]
        if best is None or (
            row["mean"] < best["mean"] if direction == "minimize" else row["mean"] > best["mean"]
        ):
            best = row
        logger.log(
            log_level,
            "tune: %s: %s %.4f ± %.4f over %d folds (best so far: trial %d, %.4f ± %.4f) [%.0f s]",
            label,
            metric,
            row["mean"],
            row["std"],
            k,
            best["trial"],
            best["mean"],
            best["std"],
            row["seconds"],
        )

    import pandas as pd

    result = TuneResult(
        trials=pd.DataFrame(trial_rows),
        folds=pd.DataFrame(fold_rows),
        best_params={name: best[name] for name in HYPERPARAMETERS},
        best_trial=int(best["trial"]),
        metric=metric,
        best_mean=float(best["mean"]),
        best_std=float(best["std"]),
        k=k,
        lr_suggestions=lr_suggestions,
    )

    # ---- refit the winner on all training data, then score the test split once
    if refit:
        logger.log(
            log_level,
            "tune: refitting trial %d on all %d training rows: %s",
            result.best_trial,
            len(texts),
            _fmt_params(result.best_params),
        )
        result.learner, result.preproc = bench.refit(result.best_params)
        metrics = {f"cv_{metric}_mean": result.best_mean, f"cv_{metric}_std": result.best_std, "cv_k": k}
        if test is not None:
            test_data = result.preproc.preprocess_test(test_texts, test_labels)
            result.test_scores = _evaluate(bench.model, base.task, test_data, result.learner.eval_batch_size)
            result.learner.val_data = test_data  # for learner.validate(), now that the choice is made
            metrics = result.test_scores | metrics
        from .predictor import Predictor

        result.predictor = Predictor(bench.model, result.preproc, metrics=metrics)
    result.seconds = time.perf_counter() - started
    logger.log(log_level, "tune: done in %.0f s\n%s", result.seconds, result.summary())
    return result


def _resolve_model(model: Any) -> tuple[Any, Any]:
    """(Transformer, starting model or None) from what the caller passed as ``model``."""
    from .preprocess import Transformer

    if isinstance(model, (str, os.PathLike)):
        return Transformer(model, maxlen="auto", verbose=0), None
    if isinstance(model, Transformer):
        return model, None
    if hasattr(model, "config") and hasattr(model, "fit"):
        base = preproc_of(model)
        if base is None:
            raise DataTypeError(
                "`model` is a TF model that easytx did not build, so its preprocessor is unknown. "
                "Pass the model from Transformer.get_classifier(), the Transformer itself, or a "
                "model name."
            )
        return base, model
    raise DataTypeError(
        "`model` must be a model name or folder, an easytx Transformer, or the model from "
        f"Transformer.get_classifier(). Received an object of type {type(model).__name__}."
    )


class _Bench:
    """The working state of one ``tune`` call: tokenized data per maxlen, the model and its
    starting weights, and a compiled learner reused across folds."""

    def __init__(
        self,
        base: Any,
        model: Any,
        texts: list,
        labels: list,
        given_train: Any,
        *,
        seed: int | None,
        fit_verbose: int,
    ):
        self.base = base
        self.texts, self.labels, self.given_train = texts, labels, given_train
        self.seed, self.fit_verbose = seed, fit_verbose
        self.fitted = hasattr(base, "labels_")
        self._prepared: dict = {}
        self._reusable: dict = {}
        base.tokenizer  # noqa: B018 - load once; the per-maxlen copies share it
        if model is None:
            first = base.maxlen_ if self.fitted else base.maxlen
            model = self.prepare(first)[0].get_classifier(seed=seed)
        self.model = model
        self.initial_weights = model.get_weights()

    def prepare(self, length: Any) -> tuple[Any, Any]:
        """(preprocessor, tokenized training data) for maximum length ``length``, made once."""
        if length in self._prepared:
            return self._prepared[length]
        if self.given_train is not None and self.fitted and length == self.base.maxlen_:
            entry = (self.base, self.given_train)
        else:
            preproc = copy.copy(self.base)
            preproc.maxlen, preproc.verbose = length, 0
            dataset = preproc.preprocess_train(self.texts, self.labels)
            if self.fitted and list(preproc.labels_.classes_) != list(self.base.labels_.classes_):
                raise DataError(
                    f"`train` holds the classes {preproc.labels_.classes_}, but the model was built "
                    f"for {self.base.labels_.classes_}. Tune on the data the Transformer was fitted on."
                )
            entry = (preproc, dataset)
        self._prepared[length] = self._prepared[entry[0].maxlen_] = entry
        return entry

    def learner(self, data: Any, params: dict) -> Any:
        """A learner on ``data`` whose model starts from the initial weights and a fresh optimizer.

        Compiling retraces the training step (seconds per fold), so while batch size and weight
        decay stay the same the compiled learner is reused: weights restored, optimizer state
        (step count, Adam moments) zeroed, which is what a new optimizer holds.
        """
        from .learner import get_learner

        self.model.set_weights(self.initial_weights)
        key = (params["batch_size"], params["weight_decay"])
        learner = self._reusable.get(key)
        if learner is None:
            self._reusable.clear()
            learner = self._reusable[key] = get_learner(
                self.model,
                train_data=data,
                batch_size=params["batch_size"],
                weight_decay=params["weight_decay"],
                seed=self.seed,
            )
            return learner
        for variable in optimizer_variables(self.model.optimizer):
            dtype = getattr(variable.dtype, "as_numpy_dtype", variable.dtype)  # tf.DType or a name
            variable.assign(np.zeros(tuple(variable.shape), np.dtype(dtype)))
        learner.train_data, learner.val_data = data, None
        learner.history, learner.batch_history, learner.lr_finder_ = None, {}, None
        return learner

    def lr_find(self, space: dict, train_index: np.ndarray, steps: int) -> Any:
        """Run the lr finder with the first candidate of every other hyperparameter."""
        first = {}
        for name, choice in space.items():
            if name != "lr":
                first[name] = choice[0] if isinstance(choice, list) else choice.low
        for name in _INT_PARAMS:
            if isinstance(space[name], Range):
                first[name] = int(first[name])
        _, dataset = self.prepare(first["maxlen"])
        learner = self.learner(dataset.subset(train_index), first)
        return learner.lr_find(num_steps=steps, verbose=self.fit_verbose, suggest=False)

    def cross_validate(
        self, params: dict, folds: list, metric: str, label: str, log_level: int
    ) -> tuple[dict, list[dict]]:
        """Fine-tune and score ``params`` on every fold: (trial row, fold rows)."""
        started = time.perf_counter()
        preproc, dataset = self.prepare(params["maxlen"])
        params["maxlen"] = int(preproc.maxlen_)
        per_fold: list[dict] = []
        rows: list[dict] = []
        for fold, (train_idx, val_idx) in enumerate(folds, start=1):
            fold_start = time.perf_counter()
            learner = self.learner(dataset.subset(train_idx), params)
            learner.fit_onecycle(params["lr"], params["epochs"], verbose=self.fit_verbose)
            scores = _evaluate(self.model, self.base.task, dataset.subset(val_idx), learner.eval_batch_size)
            if metric not in scores:
                raise ConfigError(
                    f"Unknown `metric` {metric!r}; this task reports {sorted(scores)}."
                    + closest_match_hint(metric, scores)
                )
            per_fold.append(scores)
            seconds = time.perf_counter() - fold_start
            rows.append({"fold": fold, "n_train": len(train_idx), "n_val": len(val_idx)} | scores)
            rows[-1]["seconds"] = seconds
            logger.log(
                log_level,
                "tune: %s fold %d/%d: %s=%.4f (mean so far %.4f) %s [%.0f s]",
                label,
                fold,
                len(folds),
                metric,
                scores[metric],
                float(np.mean([s[metric] for s in per_fold])),
                _fmt_params(params),
                seconds,
            )
        values = np.array([s[metric] for s in per_fold])
        row = dict(params)
        row |= {f"fold_{i}": float(v) for i, v in enumerate(values, start=1)}
        row |= {"mean": float(values.mean()), "std": float(values.std())}
        for name in per_fold[0]:
            if name != metric:
                other = np.array([s[name] for s in per_fold])
                row |= {f"{name}_mean": float(other.mean()), f"{name}_std": float(other.std())}
        row["seconds"] = time.perf_counter() - started
        return row, rows

    def refit(self, params: dict) -> tuple[Any, Any]:
        """Fine-tune ``params`` on all training data: (learner, preprocessor)."""
        preproc, dataset = self.prepare(params["maxlen"])
        learner = self.learner(dataset, params)
        learner.fit_onecycle(params["lr"], params["epochs"], verbose=self.fit_verbose)
        bind(self.model, preproc=preproc)
        return learner, preproc
