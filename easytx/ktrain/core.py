"""ktrain's ``Learner`` and ``Predictor`` semantics over easytx's (``ktrain.core``'s names).

:class:`Learner` is easytx's :class:`~easytx.learner.Learner` with ktrain's argument orders and
return values where they differ: ``hist.history['lr']`` per batch, ``top_losses`` listing only
misclassified examples as ``(id, loss, true, pred)``, ``validate`` returning ``[('mae', ...)]``
for regression and ``None`` for multi-label, ``get_weight_decay()`` ``None`` until
``set_weight_decay()``, ``lr_find`` returning ``None`` and ``lr_estimate()`` the estimates.
:class:`Predictor` answers multi-label ``predict`` with ``(class, probability)`` for every class
and ``explain`` with an IPython HTML object (``None`` for regression), as ktrain does.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .. import callbacks as cb
from .. import learner as base_learner
from .. import schedules
from .._keras import save_weights_h5, weights_file_name
from ..bindings import metrics_of, preproc_of
from ..data import check_positive_int
from ..errors import ArtifactError, ConfigError, DataTypeError, EasytxError, NotFittedError
from ..inference import predict_logits
from ..learner import _console
from ..predictor import Predictor as EasytxPredictor
from ..preprocess import Transformer as EasytxTransformer
from .dataset import easytx_dataset, ktrain_y

logger = logging.getLogger(__name__)

__all__ = ["Learner", "Predictor", "get_learner", "get_predictor", "load_predictor", "release_gpu_memory"]

DEFAULT_BS = 32
DEFAULT_WD = 0.01
DEFAULT_ES = 5
DEFAULT_ROP = 2


def _steps_check(steps_per_epoch: int | None, learner: Learner) -> None:
    if steps_per_epoch is not None and steps_per_epoch != learner.steps_per_epoch:
        raise ConfigError(
            f"steps_per_epoch={steps_per_epoch}: easytx trains on whole passes over the data "
            f"({learner.steps_per_epoch} batches per epoch). Drop steps_per_epoch."
        )


def _valley(lrs: list, losses: list) -> float:
    """fastai's "valley": the longest run of falling loss; a point 2/3 of the way down it."""
    n = len(losses)
    run = [1] * n
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
    end = int(np.argmax(run))
    start = end - run[end] + 1
    sections = (end - start) / 3
    return float(lrs[min(n - 1, start + int(sections) + int(sections / 2))])


class Learner(base_learner.Learner):
    """easytx's Learner with ktrain's signatures and return values (see the module docstring).

    With ``checkpoint_folder=`` the fit methods write each epoch's weights under ktrain's names
    (``weights-01-0.42.hdf5``, or ``weights-01.hdf5`` without validation data), h5 files that
    ``learner.model.load_weights(path)`` reads; the folder also holds easytx's optimizer state and
    ``progress.json``, so ``resume=True`` works as in easytx. Build it with :func:`get_learner`.
    ``freeze``, ``unfreeze``, ``lr_plot``'s figure, ``plot`` and the callbacks are easytx's.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._weights_dir = tempfile.mkdtemp(prefix="easytx-ktrain-weights-")
        weakref.finalize(self, shutil.rmtree, self._weights_dir, True)
        self._original_weights = Path(self._weights_dir) / weights_file_name(self.model, "original")
        save_weights_h5(self.model, self._original_weights)

    # ------------------------------------------------------------------ training
    def _checkpoint_weights_name(self, epoch: int, logs: dict) -> str:
        """ktrain's checkpoint names: ``weights-{epoch:02d}-{val_loss:.2f}.hdf5`` with validation
        data, else ``weights-{epoch:02d}.hdf5`` (read back with ``learner.model.load_weights``)."""
        if self.val_data is not None and "val_loss" in logs:
            return f"weights-{epoch:02d}-{logs['val_loss']:.2f}.hdf5"
        return f"weights-{epoch:02d}.hdf5"

    def _with_lr_history(self, start: int, hist: Any, cycle_momentum: bool = True) -> Any:
        """Add ktrain's per-batch ``lr`` (and ``momentum``, ``iterations``) to the History."""
        if hist is not None:
            lrs = self.batch_history.get("lr", [])[start:]
            hist.history["lr"] = lrs
            hist.history["iterations"] = list(range(1, len(lrs) + 1))
            if cycle_momentum:
                hist.history["momentum"] = self.batch_history.get("momentum", [])[start:]
        return hist

    def fit_onecycle(
        self,
        lr: float,
        epochs: int,
        checkpoint_folder: str | Path | None = None,
        cycle_momentum: bool = True,
        max_momentum: float = 0.95,
        min_momentum: float = 0.85,
        class_weight: Any = None,
        callbacks: Sequence | None = None,
        steps_per_epoch: int | None = None,
        verbose: int = 1,
        **options: Any,
    ) -> Any:
        """ktrain's ``fit_onecycle``: one straight-line cycle over all epochs, ktrain's schedule.

        The learning rate climbs from ``lr/10`` to ``lr`` over the first half of the batches and
        falls towards ``lr/1000`` over the second; with ``cycle_momentum`` Adam's ``beta_1`` moves
        the other way between ``max_momentum`` and ``min_momentum`` (exact values:
        :func:`easytx.schedules.triangular_one_cycle`). The History holds ``lr``, ``momentum``
        and ``iterations`` per batch; ``max(hist.history['lr'])`` is ``lr`` (from two batches on).

        ``options`` are easytx's: ``resume``, ``early_stopping``, ``monitor``, ``log_dir``,
        ``tune_thresholds`` (see :meth:`easytx.learner.Learner.fit_onecycle`). easytx's cosine
        one-cycle (``pct_start``, ``div_factor``, ``final_div_factor``) is
        ``easytx.get_learner(...).fit_onecycle``.
        """
        _steps_check(steps_per_epoch, self)
        cosine = sorted(set(options) & {"pct_start", "div_factor", "final_div_factor"})
        if cosine:
            raise ConfigError(
                f"easytx.ktrain's fit_onecycle runs ktrain's triangular one cycle (lr/10 -> lr -> "
                f"lr/1000) and takes no {', '.join(cosine)}. Received: "
                f"{', '.join(f'{k}={options[k]!r}' for k in cosine)}. Drop them, or train with "
                "easytx.get_learner(...).fit_onecycle for easytx's cosine one cycle."
            )
        lr = base_learner._check_lr(lr)
        epochs = check_positive_int(epochs, "epochs")
        moms = (max_momentum, min_momentum) if cycle_momentum else None
        schedule = partial(
            schedules.triangular_one_cycle,
            max_lr=lr,
            total_steps=epochs * self.steps_per_epoch,
            moms=moms,
        )
        schedule(0.0)  # validates the options before any work
        run = {
            "method": "fit_onecycle",
            "lr": lr,
            "epochs": epochs,
            "schedule": "ktrain's triangle",
            "div_factor": 10.0,
            "final_div_factor": 1000.0,
            "moms": list(moms) if moms else None,
            "early_stopping": options.get("early_stopping"),
            "monitor": options.get("monitor"),
        }
        start = len(self.batch_history.get("lr", []))
        hist = self._run(
            epochs=epochs,
            schedule=schedule,
            callbacks=callbacks,
            class_weight=class_weight,
            checkpoint_folder=checkpoint_folder,
            verbose=verbose,
            run=run,
            **options,
        )
        return self._with_lr_history(start, hist, cycle_momentum)

    def autofit(
        self,
        lr: float,
        epochs: int | None = None,
        early_stopping: int | None = None,
        reduce_on_plateau: int | None = None,
        reduce_factor: float = 2,
        cycle_momentum: bool = True,
        max_momentum: float = 0.95,
        min_momentum: float = 0.85,
        monitor: str = "val_loss",
        checkpoint_folder: str | Path | None = None,
        class_weight: Any = None,
        callbacks: Sequence | None = None,
        steps_per_epoch: int | None = None,
        verbose: int = 1,
        **options: Any,
    ) -> Any:
        """ktrain's ``autofit`` (triangular policy, early stopping, plateau cuts); the History
        holds ``lr`` and ``momentum`` per batch."""
        _steps_check(steps_per_epoch, self)
        start = len(self.batch_history.get("lr", []))
        hist = super().autofit(
            lr,
            epochs,
            early_stopping,
            reduce_on_plateau,
            reduce_factor,
            cycle_momentum,
            max_momentum,
            min_momentum,
            monitor,
            checkpoint_folder,
            class_weight,
            callbacks,
            verbose,
            **options,
        )
        return self._with_lr_history(start, hist, cycle_momentum)

    def fit(
        self,
        lr: float,
        n_cycles: int,
        cycle_len: int | None = None,
        cycle_mult: int = 1,
        lr_decay: float = 1.0,
        checkpoint_folder: str | Path | None = None,
        early_stopping: int | None = None,
        class_weight: Any = None,
        callbacks: Sequence | None = None,
        steps_per_epoch: int | None = None,
        verbose: int = 1,
        **options: Any,
    ) -> Any:
        """ktrain's ``fit``: constant ``lr`` for ``n_cycles`` epochs, or SGDR with ``cycle_len``;
        ``early_stopping`` watches ``val_loss`` and restores the best weights."""
        _steps_check(steps_per_epoch, self)
        if lr_decay != 1.0:
            raise ConfigError(
                f"lr_decay={lr_decay}: easytx's SGDR restarts at the same lr every cycle. Drop lr_decay."
            )
        start = len(self.batch_history.get("lr", []))
        hist = super().fit(
            lr,
            n_cycles,
            cycle_len,
            cycle_mult,
            early_stopping=early_stopping,
            checkpoint_folder=checkpoint_folder,
            class_weight=class_weight,
            callbacks=callbacks,
            verbose=verbose,
            **options,
        )
        return self._with_lr_history(start, hist, cycle_momentum=False)

    # ------------------------------------------------------------------ learning rate
    def lr_find(
        self,
        start_lr: float = 1e-7,
        lr_mult: float = 1.01,
        max_epochs: int | None = None,
        class_weight: Any = None,
        stop_factor: float = 4,
        show_plot: bool = False,
        suppress_output: bool = False,
        restore_weights_only: bool = False,
        verbose: int = 1,
        **options: Any,
    ) -> None:
        """ktrain's ``lr_find``: sweep the learning rate (the model is left unchanged); see
        :meth:`lr_plot` and :meth:`lr_estimate`. ``lr_mult`` is replaced by easytx's 100-step
        sweep (``num_steps=``)."""
        del lr_mult, restore_weights_only
        if class_weight is not None:
            raise ConfigError("lr_find() sweeps without class weights in easytx. Drop class_weight.")
        verbose = 0 if suppress_output else verbose
        if verbose:
            _console("simulating training for different learning rates... this may take a few moments...")
        super().lr_find(
            start_lr,
            max_epochs=max_epochs,
            stop_factor=stop_factor,
            show_plot=False,
            verbose=verbose,
            **options,
        )
        if show_plot:
            self.lr_plot()
        elif verbose:
            _console(
                "Please invoke the Learner.lr_plot() method to visually inspect the loss plot to help "
                "identify the maximal learning rate associated with falling loss."
            )

    def lr_estimate(self) -> tuple:
        """``(lr at the steepest fall, lr at the minimum loss / 10, lr in the longest valley)``."""
        if self.lr_finder_ is None:
            raise NotFittedError("Please call lr_find first.")
        found = self.lr_finder_
        return (found.steepest, found.min_div10, _valley(found.lrs, found.losses))

    def lr_plot(
        self, n_skip_beginning: int = 10, n_skip_end: int = 5, suggest: bool = False, return_fig: bool = False
    ) -> Any:
        """Show loss against learning rate; return the Figure with ``return_fig=True``."""
        from .. import plots

        fig = super().lr_plot(n_skip_beginning, n_skip_end, suggest)
        plots.show(fig)
        return fig if return_fig else None

    def plot(self, plot_type: str = "loss", return_fig: bool = False) -> Any:
        """Show the training history (``"loss"``, ``"lr"``, ``"momentum"`` or a metric)."""
        from .. import plots

        fig = super().plot(plot_type)
        plots.show(fig)
        return fig if return_fig else None

    def set_lr(self, lr: float) -> None:
        """Set the optimizer's learning rate (the fit methods set it per batch from their schedule)."""
        cb.inner_optimizer(self.model.optimizer).learning_rate.assign(base_learner._check_lr(lr))

    def get_weight_decay(self) -> float | None:
        """The weight decay; ``None`` without any (ktrain's default until :meth:`set_weight_decay`)."""
        return self.weight_decay or None

    def set_weight_decay(self, wd: float = DEFAULT_WD) -> None:
        """Decoupled weight decay (AdamW), by default ktrain's 0.01; ``0`` turns it off."""
        super().set_weight_decay(wd)

    # ------------------------------------------------------------------ evaluation
    def _eval_data(self, val_data: Any) -> Any:
        return super()._eval_data(easytx_dataset(val_data, "val_data"))

    def predict(self, val_data: Any = None) -> np.ndarray:
        """Probabilities (classification, multi-label) or predicted values (regression), one row
        per validation example."""
        data = self._eval_data(val_data)
        return self.predict_proba(data)

    def ground_truth(self, val_data: Any = None) -> np.ndarray:
        """Validation labels as ktrain holds them: one-hot, multi-hot or float targets."""
        data = self._eval_data(val_data)
        preproc = preproc_of(self.model)
        return ktrain_y(data, self.task.name, len(getattr(preproc.labels_, "classes_", [])))

    def top_losses(self, n: Any = 4, val_data: Any = None, preproc: Any = None) -> list[tuple]:
        """ktrain's ``top_losses``: ``(id, loss, true, predicted)`` sorted by loss, highest first.

        For single-label classification only misclassified examples are listed (class names
        with ``preproc``, else class ids as strings); ``n`` is a count or a ``(start, stop)`` range.
        """
        start, stop = (0, n) if isinstance(n, int) else tuple(n)
        data = self._eval_data(val_data)
        logits = predict_logits(self.model, data, batch_size=self.eval_batch_size)
        losses = self.task.per_example_loss(data.y, logits)
        proba = self.task.probabilities(logits, labels=self._labels(None, None))
        if self.task.name == "token_classification":  # per sentence: its words' tags
            labels = self._labels(None, None)
            truth, pred = self.task._tags(data.y, proba, labels)
            rows = [(i, float(loss), truth[i], pred[i]) for i, loss in enumerate(losses)]
        elif self.task.name == "classification":
            names = list(preproc.get_classes()) if preproc is not None else None
            truth, predicted = np.asarray(data.y).reshape(-1), proba.argmax(axis=1)
            rows = [
                (i, float(loss), _name(truth[i], names), _name(predicted[i], names))
                for i, loss in enumerate(losses)
                if predicted[i] != truth[i]
            ]
        else:
            y = self.ground_truth(data)
            pred = np.around(
                np.squeeze(proba, axis=1) if proba.ndim == 2 and proba.shape[1] == 1 else proba, 2
            )
            rows = [(i, float(loss), y[i], pred[i]) for i, loss in enumerate(losses)]
        rows.sort(key=lambda row: row[1], reverse=True)
        return rows[start:stop]

    def view_top_losses(self, n: Any = 4, preproc: Any = None, val_data: Any = None) -> None:
        """Print :meth:`top_losses` with each example's text."""
        data = self._eval_data(val_data)
        for i, loss, truth, pred in self.top_losses(n, val_data=data, preproc=preproc):
            _console("----------")
            if self.task.name == "token_classification":  # ktrain's NER layout: word, true, pred
                _console(f"id:{i} | loss:{round(loss, 2)}")
                _console("")
                _console(f"{'Word':<15}: {'True':<8} {'Pred':<8}")
                _console("=" * 33)
                for word, t, q in zip(data.texts[i], truth, pred):
                    _console(f"{word:<15}: {t:<8} {q:<8}")
                continue
            _console(f"id:{i} | loss:{round(loss, 2)} | true:{truth} | pred:{pred})")
            _console("")
            _console(str(data.texts[i]))

    def validate(
        self,
        val_data: Any = None,
        print_report: bool = True,
        save_path: str | None = "ktrain_classification_report.csv",
        class_names: Sequence | None = None,
    ) -> Any:
        """ktrain's ``validate``: the confusion matrix for classification (report printed, or
        saved to ``save_path`` as CSV with ``print_report=False``); ``None`` for multi-label;
        ``[('mae', value)]`` for regression."""
        data = self._eval_data(val_data)
        if self.task.name == "token_classification":  # ktrain's NER learner: the entity F1
            scores = super().validate(data, print_report=print_report)
            return float(scores["micro"]["f1"]) if "micro" in scores else float(scores["token_accuracy"])
        if self.task.name == "regression":
            from sklearn.metrics import mean_absolute_error

            y, pred = self.ground_truth(data), np.squeeze(self.predict(data))
            return [("mae", float(mean_absolute_error(y, pred)))]
        if not print_report and save_path is not None:
            self._save_report(data, save_path, class_names)
        matrix = super().validate(data, print_report=print_report, class_names=class_names or None)
        if self.task.name == "multilabel":
            warnings.warn(
                "Confusion matrices do not currently support multilabel classification, so returning None",
                stacklevel=2,
            )
            return None
        return matrix

    def _save_report(self, data: Any, save_path: str, class_names: Sequence | None) -> None:
        import pandas as pd
        from sklearn.metrics import classification_report

        y, proba = self.ground_truth(data), self.predict(data)
        if self.task.name == "multilabel":
            truth, pred = y, (proba >= 0.5).astype(int)
        else:
            truth, pred = y.argmax(axis=1), proba.argmax(axis=1)
        report = classification_report(
            truth,
            pred,
            target_names=[str(c) for c in class_names] if class_names else None,
            output_dict=True,
            zero_division=0,
        )
        pd.DataFrame(report).transpose().to_csv(save_path)
        _console(f"classification report saved to: {save_path}")

    def evaluate(
        self,
        test_data: Any = None,
        print_report: bool = True,
        save_path: str | None = "ktrain_classification_report.csv",
        class_names: Sequence | None = None,
    ) -> Any:
        """ktrain's alias of :meth:`validate`."""
        return self.validate(test_data, print_report, save_path, class_names)

    # ------------------------------------------------------------------ the model
    def save_model(self, fpath: str | Path) -> None:
        """Write the model to the folder ``fpath`` (config + safetensors, no pickle)."""
        super().save_model(fpath)

    def load_model(self, fpath: str | Path, custom_objects: Any = None, **kwargs: Any) -> None:
        """Load the model :meth:`save_model` wrote (``preproc=`` is accepted, as in ktrain)."""
        del custom_objects, kwargs
        if Path(fpath).suffix in (".h5", ".hdf5") and Path(fpath).is_file():
            raise ArtifactError(
                f"load_model() takes a folder written by learner.save_model(); {fpath} is a weights "
                f"file (a checkpoint_folder= epoch). Load it as in ktrain: "
                f"learner.model.load_weights({os.fspath(fpath)!r})."
            )
        super().load_model(fpath)

    def set_model(self, model: Any) -> None:
        """Replace the model (one built by this namespace's factories) and compile it."""
        if preproc_of(model) is None:
            raise DataTypeError(
                "set_model() takes a model from text_classifier(), text_regression_model() or "
                f"Transformer.get_classifier(). Received an object of type {type(model).__name__}."
            )
        self.model = model
        self.history = None
        self._compile()

    def reset_weights(self, verbose: int = 1) -> None:
        """Put back the weights the model had when :func:`get_learner` was called."""
        self.model.load_weights(str(self._original_weights))
        self.history = None
        if verbose:
            _console("Model weights have been reset.")

    def print_layers(self, show_wd: bool = False) -> None:
        """Print the model's layers with their index and trainable flag."""
        del show_wd
        for i, layer in enumerate(self.model.layers):
            _console(f"{i} (trainable={layer.trainable}) : {layer}")

    def layer_output(self, layer_id: int, example_id: int = 0, use_val: bool = False) -> Any:
        """Not available: a transformer's layers are not separate Keras functions."""
        raise EasytxError(
            "layer_output() is not available for transformer models (their layers cannot be cut "
            "out as Keras functions). For hidden states call the model's backbone on a batch, e.g. "
            "easytx.backend.backbone(learner.model)(inputs)."
        )


def _name(class_id: Any, names: list | None) -> str:
    return str(names[int(class_id)]) if names else f"{int(class_id)}"


def get_learner(
    model: Any,
    train_data: Any = None,
    val_data: Any = None,
    batch_size: int = DEFAULT_BS,
    eval_batch_size: int = DEFAULT_BS,
    workers: int = 1,
    use_multiprocessing: bool = False,
    *,
    bucket: bool = False,
) -> Learner:
    """ktrain's ``get_learner`` for models from :mod:`easytx.ktrain.text` (no weight decay, as in
    ktrain, until ``learner.set_weight_decay()``; one learning rate for every weight, as in
    ktrain, where ``easytx.get_learner`` trains a multi-label head 30x faster).

    Batches are drawn at random, as ktrain draws them; ``bucket=True`` (an easytx option) groups
    texts of similar length instead, which pads less and trains faster but, with ktrain's
    high-rate recipes, can cost accuracy: ktrain's CoNLL-2003 tagger recipe scored 0.802 entity
    F1 bucketed against 0.858 at random (``docs/ner.md``)."""
    del workers, use_multiprocessing
    if preproc_of(model) is None:
        raise DataTypeError(
            "easytx.ktrain.get_learner takes a transformer model built by text.text_classifier(), "
            "text.text_regression_model(), text.sequence_tagger() or "
            "text.Transformer(...).get_classifier(). Plain Keras "
            f"models (received {type(model).__name__}) are out of scope: use ktrain or Keras for them."
        )
    for data in (train_data, val_data):
        if hasattr(data, "batch_size") and not isinstance(data, tuple):
            data.batch_size = batch_size  # ktrain's data objects batch as the learner does
    return base_learner.build_learner(
        Learner,
        model,
        easytx_dataset(train_data, "train_data"),
        easytx_dataset(val_data, "val_data"),
        batch_size=batch_size,
        eval_batch_size=eval_batch_size,
        weight_decay=0.0,
        seed=None,
        bucket=bool(bucket),
        jit_compile=None,
        strategy=None,
        mixed_precision=None,
        accumulation_steps=1,
        head_lr_multiplier=1.0,  # ktrain trains every weight at one rate
    )


class Predictor(EasytxPredictor):
    """easytx's Predictor with ktrain's answers where they differ (see the module docstring)."""

    def get_classes(self) -> list:
        """Class names in id order; ``[]`` for regression."""
        return [] if self.task.name == "regression" else super().get_classes()

    def predict(
        self,
        texts: Any,
        return_proba: bool = False,
        use_tf_dataset: bool = False,
        verbose: int = 0,
        **options: Any,
    ) -> Any:
        """Labels (classification), ``[(class, probability), ...]`` for every class (multi-label),
        or values (regression; an array for a list of texts), for a text or a list of texts."""
        del use_tf_dataset
        if self.task.name == "token_classification":
            return self._predict_tags(texts, return_proba=return_proba, verbose=verbose, **options)
        if return_proba:
            return self.predict_proba(texts, verbose=verbose)
        if self.task.name == "multilabel":
            proba = np.atleast_2d(self.predict_proba(texts, verbose=verbose))
            classes = super().get_classes()
            rows = [list(zip(classes, map(float, row))) for row in proba]
            return rows[0] if isinstance(texts, str) else rows
        result = super().predict(texts, verbose=verbose, **options)
        if self.task.name == "regression" and isinstance(result, list):
            return np.asarray(result, dtype=np.float32)
        return result

    def _predict_tags(
        self,
        sentences: Any,
        *,
        return_proba: bool = False,
        merge_tokens: bool = False,
        custom_tokenizer: Any = None,
        return_offsets: bool = False,
        verbose: int = 0,
    ) -> list:
        """ktrain's NER ``predict``: ``(word, tag[, probability][, (start, end)])`` per word, or
        with ``merge_tokens`` ``(entity, type[, probability][, (start, end)])`` per entity."""
        from .ner import merge_tokens as merge

        if not isinstance(sentences, (str, list)):
            raise DataTypeError(
                "Param sentence must be either string-representation of a sentence or a list of "
                f"sentence strings. Received: {type(sentences).__name__}."
            )
        items = [sentences] if isinstance(sentences, str) else list(sentences)
        words = None
        if custom_tokenizer is not None:  # its tokens, joined by spaces, are the words read
            words = [" ".join(custom_tokenizer(text)) for text in items]
        rows = super().predict(
            words if words is not None else items,
            verbose=verbose,
            return_tokens=True,
            return_scores=return_proba,
            return_offsets=True,
        )
        if words is not None:  # spans of the custom tokens in the raw text, in order
            rows = [_respan(text, row) for text, row in zip(items, rows)]
        out = []
        for text, row in zip(items, rows):
            if merge_tokens:
                out.append(merge(row, text, return_proba=return_proba, return_offsets=return_offsets))
            else:
                out.append([tuple(r) if return_offsets else tuple(r[:-1]) for r in row])
        return out[0] if isinstance(sentences, str) else out

    def predict_proba(self, texts: Any, verbose: int = 0) -> np.ndarray:
        return super().predict_proba(texts, verbose=verbose)

    def explain(
        self,
        doc: Any,
        truncate_len: int = 512,
        all_targets: bool = False,
        n_samples: int = 2500,
        **options: Any,
    ) -> Any:
        """Highlight the words behind the predicted class: an ``IPython.display.HTML`` object
        (easytx's :class:`~easytx.explain.Explanation` where IPython is missing).

        ``None`` with a warning for regression and sentence pairs, as in ktrain. ``doc`` is cut
        to ``truncate_len`` words. easytx explains with integrated gradients (``n_samples``,
        ktrain's LIME sample count, is unused); ``all_targets`` is not supported.
        """
        del n_samples
        if isinstance(doc, tuple):
            warnings.warn("explain does not currently support sentence pair classification", stacklevel=2)
            return None
        if self.task.name == "regression":
            warnings.warn("currently_unsupported: explain does not support text regression", stacklevel=2)
            return None
        if not isinstance(doc, str):
            raise DataTypeError(f"text must be of type str. Received: {type(doc).__name__}.")
        if all_targets:
            raise ConfigError(
                "explain(all_targets=True) is not supported; pass target=... for another class."
            )
        explanation = super().explain(" ".join(doc.split()[:truncate_len]), **options)
        try:
            from IPython.display import HTML
        except ImportError:
            return explanation
        return HTML(explanation.to_html())

    def save(self, fpath: Any, **options: Any) -> None:  # type: ignore[override]
        """Save to the folder ``fpath`` (easytx's format: JSON + safetensors, no pickle)."""
        super().save(fpath, **options)

    # ------------------------------------------------------------------ export
    def export_model_to_onnx(
        self,
        fpath: str | os.PathLike,
        quantize: bool = False,
        target_opset: int | None = None,
        verbose: int = 1,
    ) -> str:
        """ktrain's ``export_model_to_onnx``: write the model to the ONNX file ``fpath``.

        The graph is easytx's ONNX export (:func:`easytx.export.write_onnx_graph`): int32 inputs
        named as the tokenizer names them (``input_ids``, ``token_type_ids`` for BERT,
        ``attention_mask``) of any batch size and length; outputs ``logits`` (first, as in
        ktrain) and ``probabilities`` (classification). With ``quantize=True`` an int8 copy is
        also written next to it, ``<name>-quantized.onnx`` (:func:`easytx.export.quantize_int8`),
        and its path is returned, as in ktrain. ``target_opset``: the ONNX opset (13 to 18;
        ``None``: 17).

        Returns
        -------
        str
            ``fpath``, or the quantized file's path with ``quantize=True``.

        Examples
        --------
        >>> path = predictor.export_model_to_onnx("/tmp/model.onnx")  # doctest: +SKIP
        >>> sess = predictor.create_onnx_session(path)  # doctest: +SKIP
        >>> tokens = predictor.preproc.get_tokenizer()(["a text"], return_tensors="np")  # doctest: +SKIP
        >>> feed = {i.name: tokens[i.name].astype("int32") for i in sess.get_inputs()}  # doctest: +SKIP
        >>> logits = sess.run(None, feed)[0]  # doctest: +SKIP
        """
        from .. import onnx_engine
        from ..export import DEFAULT_OPSET, check_opset, import_tf2onnx, quantize_int8, write_onnx_graph

        self._require_tf("export_model_to_onnx()")
        opset = DEFAULT_OPSET if target_opset is None else check_opset(target_opset)
        import_tf2onnx()
        if quantize:
            onnx_engine._import_onnxruntime()  # said before anything is written
        path = _export_path(fpath, "export_model_to_onnx", "/tmp/model.onnx")
        if verbose:
            _console("converting to ONNX format ... this may take a few moments...")
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            write_onnx_graph(self, tmp, opset=opset)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        result = os.fspath(fpath)
        if quantize:
            quantized = path.with_name(f"{path.stem}-quantized{path.suffix}")
            if verbose:
                _console("quantizing the ONNX model (int8 weights) ...")
            quantize_int8(path, quantized)
            result = quantized.as_posix()
        if verbose:
            _console("done.")
        return result

    def create_onnx_session(
        self, onnx_model_path: str | os.PathLike, provider: str = "CPUExecutionProvider"
    ) -> Any:
        """ktrain's ``create_onnx_session``: an ``onnxruntime.InferenceSession`` for the ONNX file,
        all graph optimizations on, no fallback to another provider.

        ``sess.run(None, feed)[0]`` gives the logits; ``feed`` maps each of
        ``sess.get_inputs()``'s names to an int32 array (see :meth:`export_model_to_onnx`).
        """
        from .. import onnx_engine

        ort = onnx_engine._import_onnxruntime()
        providers = list(ort.get_all_providers())
        if provider not in providers:
            raise ConfigError(
                f"`provider` must be one of onnxruntime's execution providers {providers}. "
                f"Received: provider={provider!r}. CPUExecutionProvider runs everywhere."
            )
        path = Path(onnx_model_path)
        if not path.is_file():
            raise ArtifactError(
                f"No ONNX model at {path}. Write one with predictor.export_model_to_onnx({str(path)!r})."
            )
        options = onnx_engine.session_options()  # ORT_ENABLE_ALL, onnxruntime's thread counts
        try:
            session = ort.InferenceSession(str(path), options, providers=[provider])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception classes
            raise ArtifactError(
                f"onnxruntime cannot load {path} with {provider}: {type(exc).__name__}: {str(exc)[:300]}"
            ) from exc
        session.disable_fallback()
        return session

    def export_model_to_tflite(self, fpath: str | os.PathLike, verbose: int = 1) -> str:
        """ktrain's ``export_model_to_tflite``: write the model to the TensorFlow Lite file ``fpath``.

        Inputs are int32 ``(batch, maxlen)`` arrays named as the tokenizer names them (TFLite lists
        them sorted: ``attention_mask``, ``input_ids``, ``token_type_ids``): encode with
        ``padding="max_length", max_length=predictor.preproc.maxlen``, as ktrain asks. The first
        output is the logits. See :func:`easytx.export.write_tflite`.

        Returns
        -------
        str
            ``fpath``.
        """
        from ..export import write_tflite

        self._require_tf("export_model_to_tflite()")
        path = _export_path(fpath, "export_model_to_tflite", "/tmp/model.tflite")
        if verbose:
            _console("converting to TFLite format ... this may take a few moments...")
        info = write_tflite(self, path)
        if verbose:
            _console("----------------------------------------------")
            _console(
                'NOTE: please ensure you use padding="max_length" and '
                f"max_length={info['maxlen']} when encoding your inputs (int32 arrays)."
            )
            _console("----------------------------------------------")
            _console("done.")
        return os.fspath(fpath)


def _export_path(fpath: Any, method: str, example: str) -> Path:
    """``fpath`` as a file path whose folder exists (created if missing)."""
    if not isinstance(fpath, (str, os.PathLike)):
        raise DataTypeError(
            f"`fpath` must be a file path such as {example!r}. Received: {type(fpath).__name__}."
        )
    path = Path(fpath).expanduser()
    if path.is_dir():
        raise ArtifactError(
            f"{method}(fpath={os.fspath(fpath)!r}): that is a folder; fpath names the file to "
            f"write, e.g. {example!r}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _respan(text: str, row: list) -> list:
    """Rows ``(word, ..., span)`` with each span found in ``text``, searching from the previous
    word's end (``None`` for a word not found there)."""
    out, at = [], 0
    for item in row:
        start = text.find(item[0], at)
        span = None if start < 0 else (start, start + len(item[0]))
        at = span[1] if span else at
        out.append((*item[:-1], span))
    return out


def get_predictor(model: Any, preproc: Any, batch_size: int = DEFAULT_BS) -> Predictor:
    """ktrain's ``get_predictor``: pair the trained model with its preprocessor."""
    from .ner import NERPreprocessor

    if isinstance(preproc, NERPreprocessor):
        preproc = preproc.get_preprocessor()
    if not isinstance(preproc, EasytxTransformer):
        raise DataTypeError(
            f"`preproc` must be the Transformer used for training. Received: {type(preproc).__name__}."
        )
    preproc._check_fitted()
    return Predictor(model, preproc, batch_size=batch_size, metrics=metrics_of(model))


def load_predictor(fpath: Any, batch_size: int = DEFAULT_BS, custom_objects: Any = None) -> Predictor:
    """ktrain's ``load_predictor`` for folders saved by easytx (a ktrain folder with a pickled
    ``tf_model.preproc`` is refused: see ``easytx.convert_ktrain_predictor``)."""
    del custom_objects
    return Predictor.load(fpath, batch_size=batch_size)


def release_gpu_memory(device: int = 0) -> None:
    """ktrain frees GPU memory through numba; TensorFlow frees it when models are deleted, so
    this only logs (``del learner, model`` and ``gc.collect()`` release it)."""
    del device
    logger.info(
        "release_gpu_memory: delete the models and call gc.collect(); TensorFlow keeps no other memory."
    )
