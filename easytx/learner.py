"""The :class:`Learner`: training orchestration (lr_find, fit_onecycle, autofit, fit, validate).

It wires the preprocessor's datasets, the task's loss/metrics, the schedules and the callbacks
together; the maths lives in :mod:`easytx.schedules` and :mod:`easytx.tasks`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import (
    _env,  # noqa: F401
    backend,
    distribute,
    lr_rules,
    schedules,
)
from . import callbacks as cb
from ._keras import is_keras3_model, keras_of, optimizer_variables
from .bindings import bind, preproc_of, task_of, training_of
from .data import TextData, check_positive_int, check_texts
from .errors import ArtifactError, ConfigError, DataTypeError, NotFittedError
from .inference import merge_windows, predict_logits
from .preprocess import StreamingDataset, TransformerDataset
from .tasks import task_from_name

logger = logging.getLogger(__name__)

__all__ = ["Learner", "get_learner", "LRSuggestions"]

_NO_DECAY = ["LayerNorm", "layer_norm", "bias"]
_ADAMW: dict = {}


def _keras3_adamw() -> Any:
    """Keras 3's AdamW, with sparse (embedding) gradients taken as dense ones and a faster head.

    An embedding lookup's gradient is a ``tf.IndexedSlices`` with one row per token, repeated
    tokens repeating rows. Keras 3's AdamW on TensorFlow applies such rows one by one, which gives
    a repeated token's embedding another update than the summed gradient would (measured: twice the
    step of the dense update on a first step); tf-keras sums duplicates first. Converting them to
    a dense tensor sums the duplicates, as the gradient of the loss is.

    The variables given to ``scale_head`` take Adam steps ``multiplier`` times larger (their
    learning rate times ``multiplier``; the decoupled weight decay keeps the base rate).
    """
    if "keras3" not in _ADAMW:
        import keras
        import tensorflow as tf

        class AdamW(keras.optimizers.AdamW):
            head_multiplier = 1.0
            _head_keys: frozenset = frozenset()

            def scale_head(self, variables: list, multiplier: float) -> None:
                self.head_multiplier = float(multiplier)
                self._head_keys = frozenset(self._var_key(v) for v in variables)

            def apply(self, grads: Any, trainable_variables: Any = None) -> Any:
                grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
                return super().apply(grads, trainable_variables)

            def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> Any:
                if self.head_multiplier != 1.0 and self._var_key(variable) in self._head_keys:
                    learning_rate = learning_rate * self.head_multiplier
                handles = self._fused_handles(variable)
                if handles is None or isinstance(gradient, tf.IndexedSlices):
                    return super().update_step(gradient, variable, learning_rate)
                # Adam's step in one kernel (TensorFlow's ApplyAdam: the same formula as Keras'
                # update_step, with epsilon added to sqrt(v)), instead of about a dozen separate
                # element-wise ops that each read and write the variable's size in memory
                dtype = variable.dtype
                step = tf.cast(self.iterations + 1, dtype)
                beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
                return tf.raw_ops.ResourceApplyAdam(
                    var=handles[0],
                    m=handles[1],
                    v=handles[2],
                    beta1_power=tf.pow(beta_1, step),
                    beta2_power=tf.pow(beta_2, step),
                    lr=tf.cast(learning_rate, dtype),
                    beta1=beta_1,
                    beta2=beta_2,
                    epsilon=tf.cast(self.epsilon, dtype),
                    grad=tf.cast(gradient, dtype),
                    use_locking=False,
                )

            def _fused_handles(self, variable: Any) -> tuple | None:
                """Resource handles of the variable and its two moments, or None (amsgrad, or a
                variable that is not a plain float32 resource variable) for Keras' own step."""
                if self.amsgrad or variable.dtype != "float32":
                    return None
                index = self._get_variable_index(variable)
                out = []
                for v in (variable, self._momentums[index], self._velocities[index]):
                    # Keras' TensorFlow optimizer passes the tf.Variable inside a Keras variable
                    inner = v if isinstance(v, tf.Variable) else getattr(v, "value", None)
                    handle = getattr(inner, "handle", None) if isinstance(inner, tf.Variable) else None
                    if handle is None or getattr(handle, "dtype", None) != tf.resource:
                        return None
                    out.append(handle)
                return tuple(out)

        _ADAMW["keras3"] = AdamW
    return _ADAMW["keras3"]


def _tf_keras_adamw() -> Any:
    """tf-keras' AdamW with the same ``scale_head`` as :func:`_keras3_adamw`.

    Its ``update_step`` reads the learning rate itself, so a head variable's step is scaled
    after the fact: the variable moves ``multiplier`` times as far as AdamW moved it (the same
    step as a ``multiplier`` times larger learning rate; the weight decay, applied before, keeps
    the base rate).
    """
    if "tf_keras" not in _ADAMW:
        import tensorflow as tf
        import tf_keras

        class AdamW(tf_keras.optimizers.AdamW):
            head_multiplier = 1.0
            _head_keys: frozenset = frozenset()

            def scale_head(self, variables: list, multiplier: float) -> None:
                self.head_multiplier = float(multiplier)
                self._head_keys = frozenset(self._var_key(v) for v in variables)

            def update_step(self, gradient: Any, variable: Any) -> Any:
                if self.head_multiplier == 1.0 or self._var_key(variable) not in self._head_keys:
                    return super().update_step(gradient, variable)
                before = tf.identity(variable)
                super().update_step(gradient, variable)
                return variable.assign(before + (variable - before) * self.head_multiplier)

        _ADAMW["tf_keras"] = AdamW
    return _ADAMW["tf_keras"]


@dataclasses.dataclass
class LRSuggestions:
    """What :meth:`Learner.lr_find` measured and suggests.

    Every suggestion lies inside the range the sweep tried (``lrs[0]`` to ``lrs[-1]``); the rules
    are the functions of :mod:`easytx.lr_rules`.

    Attributes
    ----------
    valley : float
        Two thirds of the way down the longest valley of the smoothed loss (fastai's default
        rule, :func:`easytx.lr_rules.valley`). On 10 batches it lands low (0.2x to 0.4x the best
        rate measured): the loss drifts down across the flat start, so the valley starts there.
    min_loss : float
        Learning rate at the lowest smoothed loss.
    min_div10 : float
        ``min_loss / 10`` (ktrain's rule of thumb), never below the start of the sweep.
    steepest : float
        Learning rate where the smoothed loss falls fastest (on a log-lr axis).
    min_div5 : float
        The suggestion to use: ``min_loss / 5``, never below the start of the sweep
        (:func:`easytx.lr_rules.min_div5`; ``lr="auto"`` trains at it).
    lrs, losses : list of float
        The sweep, for plotting (:meth:`Learner.lr_plot`): the learning rate and the smoothed
        loss of every batch.
    """

    valley: float
    min_loss: float
    min_div10: float
    steepest: float
    min_div5: float
    lrs: list
    losses: list

    def __repr__(self) -> str:
        return (
            f"LRSuggestions(min_div5={self.min_div5:.2e}, valley={self.valley:.2e}, "
            f"min_div10={self.min_div10:.2e}, "
            f"steepest={self.steepest:.2e}, min_loss={self.min_loss:.2e})"
        )


def _json_float(value: Any) -> float | None:
    """A metric as a JSON-safe float (``None`` for NaN and infinities)."""
    number = float(value)
    return number if math.isfinite(number) else None


def _console(text: str) -> None:
    """User-facing report output (validate, view_top_losses), like ktrain prints it."""
    sys.stdout.write(text.rstrip("\n") + "\n")


def _check_lr(lr: Any) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(
            f"`lr` must be a positive number. Received: lr={lr!r}. Typical fine-tuning values are "
            "2e-5 to 1e-4; learner.lr_find() suggests one."
        )
    return float(lr)


def _check_callbacks(callbacks: Sequence | None, model: Any) -> list:
    keras = keras_of(model)
    out = list(callbacks or [])
    for callback in out:
        if not isinstance(callback, keras.callbacks.Callback):
            if is_keras3_model(model):
                hint = "This model runs on Keras 3: use `keras.callbacks` (or `tf.keras.callbacks`)."
            else:
                hint = (
                    "This model runs on the legacy backend (tf-keras): use `tf_keras.callbacks`, or "
                    "set EASYTX_BACKEND=transformers before anything imports TensorFlow so that "
                    "`tf.keras` is tf-keras."
                )
            raise DataTypeError(
                f"Callbacks must be callbacks of the model's Keras ({keras.__name__} "
                f"{keras.__version__}); received {type(callback).__module__}."
                f"{type(callback).__name__}. {hint}"
            )
    return out


class Learner:
    """Trains a Hugging Face TF model on :class:`~easytx.preprocess.TransformerDataset` data.

    Build it with :func:`get_learner`. Attributes: ``model``, ``train_data``, ``val_data``,
    ``batch_size``, ``history`` (Keras History of the last fit) and ``batch_history`` (lr,
    momentum and loss of every training batch so far).
    """

    #: ``(epoch, logs) -> file name`` of each checkpointed epoch's weights; ``None`` keeps
    #: ``weights-EE.h5`` (``easytx.ktrain``'s Learner names them as ktrain does)
    _checkpoint_weights_name: Any = None

    def __init__(
        self,
        model: Any,
        train_data: TransformerDataset,
        val_data: TransformerDataset | None = None,
        *,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        weight_decay: float = 0.01,
        seed: int | None = None,
        bucket: bool = True,
        jit_compile: bool | None = None,
        accumulation_steps: int = 1,
        head_lr_multiplier: float | None = None,
    ):
        self.model = model
        self.train_data = train_data
        self.val_data = val_data
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or max(batch_size, 64)
        self.weight_decay = weight_decay
        self.seed = seed
        self.bucket = bucket
        self.jit_compile = jit_compile
        self.accumulation_steps = accumulation_steps
        # the preprocessor's own task object (shared, so tuned thresholds reach the predictor)
        self.task = task_of(model) or task_from_name("classification")
        self.head_lr_multiplier = float(
            self.task.head_lr_multiplier if head_lr_multiplier is None else head_lr_multiplier
        )
        self.history = None
        self.batch_history: dict[str, list] = {}
        self.lr_finder_: LRSuggestions | None = None
        self.thresholds_report_: dict | None = None
        self._compile()
        if accumulation_steps > 1 and self.steps_per_epoch % accumulation_steps:
            logger.warning(
                "%d batches per epoch is not a multiple of accumulation_steps=%d: the last batches "
                "of an epoch are added to the next epoch's first update, and those of the last "
                "epoch are never applied.",
                self.steps_per_epoch,
                accumulation_steps,
            )

    # ------------------------------------------------------------------ set-up
    def _make_optimizer(self) -> Any:
        import tensorflow as tf

        if is_keras3_model(self.model):
            import keras

            # beta_1 as a variable, so that the one-cycle momentum reaches the traced update step
            optimizer = _keras3_adamw()(
                learning_rate=1e-5,
                weight_decay=self.weight_decay,
                beta_1=keras.Variable(0.9, trainable=False, dtype="float32", name="beta_1"),
                beta_2=0.999,
                epsilon=1e-7,
            )
            optimizer.exclude_from_weight_decay(var_list=backend.no_decay_variables(self.model))
        else:
            optimizer = _tf_keras_adamw()(
                learning_rate=1e-5,
                weight_decay=self.weight_decay,
                beta_1=tf.Variable(0.9, trainable=False, dtype=tf.float32, name="beta_1"),
                beta_2=0.999,
                epsilon=1e-7,
            )
            optimizer.exclude_from_weight_decay(var_names=_NO_DECAY)
        optimizer.scale_head(backend.head_variables(self.model), self.head_lr_multiplier)
        return optimizer

    def _compile(self) -> None:
        keras = keras_of(self.model)
        # optimizer (with its beta_1 variable) and metrics are created in the model's strategy scope
        with distribute.strategy_of(self.model).scope():
            self.model.compile(
                optimizer=self._make_optimizer(),
                loss=distribute.loss_for(self.model, self.task.loss(keras)),
                metrics=self.task.metrics(keras),
                jit_compile=bool(self.jit_compile) if is_keras3_model(self.model) else self.jit_compile,
            )
            # create the optimizer's slots now: otherwise the first training step is traced twice
            cb.inner_optimizer(self.model.optimizer).build(self.model.trainable_variables)
        from .steps import install_train_step

        install_train_step(self.model, self.accumulation_steps)
        if self.jit_compile and is_keras3_model(self.model) and not self.model.jit_compile:
            logger.warning(
                "jit_compile=True was turned off by Keras: it runs no XLA while TensorFlow's op "
                "determinism is enabled (tf.config.experimental.enable_op_determinism) or when a "
                "layer does not support XLA. Training goes on without XLA."
            )
        if self.jit_compile:
            # XLA compiles once per input shape: round batch widths up to a multiple of 8
            self.train_data.pad_to_multiple_of = max(self.train_data.pad_to_multiple_of, 8)

    def _seed(self) -> None:
        if self.seed is not None:
            keras_of(self.model).utils.set_random_seed(self.seed)

    def _train_dataset(self) -> Any:
        return self.train_data.to_tfdataset(self.batch_size, shuffle=True, seed=self.seed, bucket=self.bucket)

    @property
    def _has_validation(self) -> bool:
        return self.val_data is not None and self.val_data.y is not None

    def _val_dataset(self) -> Any:
        if not self._has_validation:
            return None
        return self.val_data.to_tfdataset(self.eval_batch_size, shuffle=False, bucket=self.bucket)

    @property
    def steps_per_epoch(self) -> int:
        """Training batches per epoch (a streamed file's ``steps_per_epoch``)."""
        if isinstance(self.train_data, StreamingDataset):
            return self.train_data.steps_per_epoch
        return math.ceil(len(self.train_data) / self.batch_size)

    def _class_weight(self, class_weight: Any) -> dict | None:
        self.task.check_class_weight(class_weight)
        if class_weight is None:
            return None
        if class_weight == "balanced":
            if isinstance(self.train_data, StreamingDataset):
                raise ConfigError(
                    "class_weight='balanced' needs all training labels in memory; with data "
                    "streamed from a file pass a dict {class_id: weight} instead."
                )
            from sklearn.utils.class_weight import compute_class_weight

            y = np.asarray(self.train_data.y)
            classes = np.unique(y)
            weights = compute_class_weight("balanced", classes=classes, y=y)
            return {int(c): float(w) for c, w in zip(classes, weights)}
        if not isinstance(class_weight, dict):
            raise ConfigError(
                f"`class_weight` must be a dict {{class_id: weight}} or 'balanced'. "
                f"Received: {class_weight!r}"
            )
        return {int(k): float(v) for k, v in class_weight.items()}

    # ------------------------------------------------------------------ training core
    def _best_weights(self, early_stopping: Any, monitor: str | None) -> cb.BestWeights | None:
        """The :class:`~easytx.callbacks.BestWeights` of a training call (early stopping or not),
        checked before any work; ``None`` without validation data and early stopping."""
        val = self._has_validation
        if early_stopping is None:
            return cb.BestWeights("val_loss") if val else None
        patience = check_positive_int(early_stopping, "early_stopping")
        monitor = self.task.monitor if monitor is None else monitor
        mode = self.task.direction(monitor)  # declared by the task, never guessed from the name
        if monitor.startswith("val_") and not val:
            raise ConfigError(
                f"early_stopping={patience} watches {monitor!r}, a validation metric, but this learner "
                "has no labelled val_data. Give get_learner(val_data=...), or drop early_stopping."
            )
        return cb.BestWeights(monitor, mode, patience)

    def _run(
        self,
        *,
        epochs: int,
        schedule: Any,
        callbacks: Sequence | None,
        class_weight: Any,
        checkpoint_folder: str | Path | None,
        verbose: int,
        extra_callbacks: Sequence = (),
        initial_epoch: int = 0,
        start_step: int = 0,
        resume: bool = False,
        run: dict | None = None,
        early_stopping: int | None = None,
        monitor: str | None = None,
        log_dir: str | Path | None = None,
        tune_thresholds: bool = True,
    ) -> Any:
        epochs = check_positive_int(epochs, "epochs")
        user = _check_callbacks(callbacks, self.model)
        best = self._best_weights(early_stopping, monitor)
        if resume and checkpoint_folder is None:
            raise ConfigError(
                "resume=True needs checkpoint_folder=...: the folder a previous run saved its checkpoints to."
            )
        self._seed()
        state = None
        if resume:
            state = self._restore_checkpoint(Path(checkpoint_folder), run or {}, epochs)
            if state is not None:
                initial_epoch, start_step = int(state["epoch"]), int(state["schedule_step"] or 0)
                if best is not None and isinstance(state.get("early_stopping"), dict):
                    best_file = self._checkpoint_file(Path(checkpoint_folder), state, "best_weights")
                    best.resume_from(state["early_stopping"], best_file)
                stopped = best is not None and best.stopped_epoch is not None
                if initial_epoch >= epochs or stopped:
                    logger.info(
                        "The checkpoint in %s is already at the %s.",
                        checkpoint_folder,
                        f"early stop after epoch {initial_epoch}" if stopped else "last epoch",
                    )
                    if best is not None and best.patience is not None and best.best_epoch != initial_epoch:
                        best.model = self.model
                        best.restore()
                    return self.history
        driver = cb.ScheduleCallback(schedule, epochs * self.steps_per_epoch, start_step)
        if state is not None and state.get("lr_scale") is not None:
            driver.scale = float(state["lr_scale"])
        cbs = [driver, cb.BatchHistory(self.batch_history)]
        cbs += [c(driver) if callable(c) and not isinstance(c, type) else c for c in extra_callbacks]
        # the best weights are judged before the checkpoint is written, which records them
        cbs += [best] if best is not None else []
        chief = distribute.is_chief(distribute.strategy_of(self.model))  # multi-worker: one writer
        if checkpoint_folder is not None and not resume and chief:
            self._set_aside_old_checkpoint(Path(checkpoint_folder))
        if checkpoint_folder is not None:
            extra = {"run": run or {}, "steps_per_epoch": self.steps_per_epoch, "epochs": epochs}
            cbs.append(
                cb.EpochCheckpoint(
                    checkpoint_folder,
                    driver,
                    extra=extra,
                    data=self.train_data,
                    best=best,
                    weights_name=self._checkpoint_weights_name,
                )
            )
        if log_dir is not None and chief:
            cbs += cb.log_callbacks(Path(log_dir), self.model, append=state is not None)
        cbs += user
        interrupted = False
        try:
            self.history = self.model.fit(
                self._train_dataset(),
                validation_data=self._val_dataset(),
                epochs=epochs,
                initial_epoch=initial_epoch,
                callbacks=cb.for_keras(cbs, self.model),
                shuffle=False,  # the dataset is shuffled (and length-bucketed) by easytx itself
                class_weight=self._class_weight(class_weight),
                verbose=verbose,
            )
        except KeyboardInterrupt:
            interrupted = True
            self.history = getattr(self.model, "history", self.history)
            if best is not None and best.restore():
                logger.warning(
                    "Training interrupted; restored the weights of epoch %d (%s=%.4g), the best so far.",
                    best.best_epoch,
                    best.monitor,
                    best.best,
                )
            else:
                logger.warning(
                    "Training interrupted before any validated epoch; the model keeps the weights it "
                    "had reached."
                )
        self._record_training(run or {}, best, interrupted)
        multilabel = hasattr(self.task, "tune_thresholds")
        if not interrupted and tune_thresholds and multilabel and self._has_validation:
            self._tune_thresholds_after_fit(verbose)
        return self.history

    def _tune_thresholds_after_fit(self, verbose: int) -> None:
        """Multi-label: tune each label's threshold on the validation data and report it."""
        data = self.val_data
        proba = self.predict_proba(data)
        labels = self._labels(None, None)
        before = self.task.scores(data.y, proba, labels)
        thresholds = self.task.tune_thresholds(data.y, proba)
        after = self.task.scores(data.y, proba, labels)
        self.thresholds_report_ = {
            "thresholds": dict(zip([str(c) for c in labels.classes_], thresholds)),
            "before": before,
            "after": after,
        }
        shown = ", ".join(f"{name} {t:g}" for name, t in self.thresholds_report_["thresholds"].items())
        message = (
            f"Per-label thresholds tuned on the validation data ({len(data.y)} rows): {shown}. "
            f"Validation micro-F1 {before['micro_f1']:.4f} -> {after['micro_f1']:.4f}, macro-F1 "
            f"{before['macro_f1']:.4f} -> {after['macro_f1']:.4f} (pass tune_thresholds=False to "
            "keep the previous thresholds)."
        )
        if verbose:
            _console(message)
        else:
            logger.info(message)

    def _record_training(self, run: dict, best: cb.BestWeights | None, interrupted: bool) -> None:
        """Bind this call's record to the model (a saved predictor writes it into easytx.json and
        its model card): the recipe, the data sizes, each epoch's logs and the epoch whose weights
        the model ends with, with that epoch's validation metrics as Keras computed them."""
        history = getattr(self.history, "history", None) or {}
        numbers = [int(e) + 1 for e in getattr(self.history, "epoch", None) or []]
        epochs = [
            {"epoch": n, **{k: _json_float(v[i]) for k, v in history.items() if i < len(v)}}
            for i, n in enumerate(numbers)
        ]
        kept = epochs[-1]["epoch"] if epochs else None
        if best is not None and best.best_epoch is not None and (best.patience is not None or interrupted):
            kept = best.best_epoch
        kept_logs = next((e for e in epochs if e["epoch"] == kept), {})
        if not kept_logs and best is not None and best.best_epoch == kept:  # before a resume
            kept_logs = {best.monitor: best.best}
        record = {
            "method": run.get("method"),
            "options": {k: v for k, v in run.items() if k != "method"},
            "batch_size": self.batch_size,
            "weight_decay": self.weight_decay,
            "accumulation_steps": self.accumulation_steps,
            "train_rows": len(self.train_data) if not isinstance(self.train_data, StreamingDataset) else None,
            "val_rows": len(self.val_data) if self._has_validation else None,
            "epochs": epochs,
            "kept_epoch": kept,
            "validation": {k: v for k, v in kept_logs.items() if k.startswith("val_")},
            "early_stopping": best.state() if best is not None and best.patience is not None else None,
            "interrupted": interrupted,
        }
        bind(self.model, training=[*(training_of(self.model) or []), record])

    @staticmethod
    def _checkpoint_file(folder: Path, state: dict, key: str) -> Path | None:
        """The file ``state[key]`` names inside the checkpoint ``folder`` (never outside it)."""
        from . import checkpoints

        name = state.get(key)
        if not name:
            return None
        if not isinstance(name, str) or Path(name).name != name:
            raise ArtifactError(f"{folder / checkpoints.PROGRESS} names a {key} file outside the folder.")
        return folder / name

    @staticmethod
    def _set_aside_old_checkpoint(folder: Path) -> None:
        """A fresh run must not leave an older run's progress.json to be resumed by mistake."""
        from . import checkpoints

        progress = folder / checkpoints.PROGRESS
        if progress.is_file():
            previous = folder / "progress-previous.json"
            progress.replace(previous)
            logger.warning(
                "%s held a checkpoint of an earlier run; this run starts afresh (its record is kept "
                "as %s). Pass resume=True to continue a run instead.",
                folder,
                previous.name,
            )

    def _restore_checkpoint(self, folder: Path, run: dict, epochs: int) -> dict | None:
        """Load weights, optimizer state and data order from ``folder``; return its progress."""
        from . import artifacts, checkpoints

        state = checkpoints.read_progress(folder)
        if state is None:
            logger.info("No checkpoint in %s yet: training starts from the beginning.", folder)
            return None
        checkpoints.check_resumable(
            state, run=run, steps_per_epoch=self.steps_per_epoch, epochs=epochs, folder=folder
        )
        weights = self._checkpoint_file(folder, state, "weights")
        optimizer = self._checkpoint_file(folder, state, "optimizer")
        if weights is None or not weights.is_file():
            named = weights or "The weights file"
            raise ConfigError(f"{named}, named in {folder / checkpoints.PROGRESS}, is missing.")
        artifacts.check_h5_weights_only(weights)  # arrays only, never a serialized model
        self.model.load_weights(str(weights))
        if optimizer is not None:
            variables = self.model.trainable_variables
            checkpoints.restore_optimizer_state(self.model.optimizer, variables, optimizer)
        if state.get("data_epoch") is not None and hasattr(self.train_data, "_epoch"):
            self.train_data._epoch = int(state["data_epoch"])
        logger.info(
            "Resuming from %s: epoch %d done, schedule step %s.",
            folder,
            state["epoch"],
            state["schedule_step"],
        )
        return state

    # ------------------------------------------------------------------ public training API
    def fit_onecycle(
        self,
        lr: float,
        epochs: int,
        *,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        cycle_momentum: bool = True,
        max_momentum: float = 0.95,
        min_momentum: float = 0.85,
        checkpoint_folder: str | Path | None = None,
        class_weight: Any = None,
        callbacks: Sequence | None = None,
        verbose: int = 1,
        resume: bool = False,
        early_stopping: int | None = None,
        monitor: str | None = None,
        log_dir: str | Path | None = None,
        tune_thresholds: bool = True,
    ) -> Any:
        """Train with the one-cycle policy (see :func:`easytx.schedules.one_cycle` for the shape).

        Parameters
        ----------
        lr : float
            Peak learning rate.
        epochs : int
            Number of epochs (the cycle spans all of them).
        pct_start : float
            Fraction of steps spent warming up.
        div_factor, final_div_factor : float
            Start at ``lr/div_factor``, end at ``lr/final_div_factor``.
        cycle_momentum : bool
            Move Adam's ``beta_1`` between ``max_momentum`` and ``min_momentum``, opposite to lr.
        checkpoint_folder : path, optional
            Save weights, optimizer state and progress after every epoch
            (see :mod:`easytx.checkpoints`).
        class_weight : dict or "balanced", optional
        callbacks : list of Keras callbacks (of the model's Keras: keras 3 or tf_keras), optional
        verbose : int
            ``0`` silences the progress bar.
        resume : bool
            Continue a run that stopped (crash, kill, Ctrl-C) from the last epoch saved in
            ``checkpoint_folder``: weights, optimizer state, epoch, schedule position and data
            order are restored and the remaining epochs are trained. Pass the same options as the
            first call. Without a checkpoint there yet, training starts from the beginning.
        tune_thresholds : bool
            Multi-label models with labelled validation data: at the end, set each label's
            decision threshold to the one that maximises its F1 on the validation data (see
            :meth:`tune_thresholds`), report the validation F1 before and after (printed with
            ``verbose``, logged otherwise, kept in ``learner.thresholds_report_``); the
            thresholds are saved with the predictor. ``False`` keeps the thresholds as they are.
            Other tasks ignore it.
        early_stopping : int, optional
            Patience: stop when the validation metric ``monitor`` has not improved for this many
            epochs, and end with the weights of its best epoch (restored in memory). The schedule
            keeps its length (``epochs``), so training stops part-way through the cycle. Needs
            labelled ``val_data``. With ``checkpoint_folder``, each epoch's checkpoint records the
            early-stopping state and the best epoch's weights file; ``resume=True`` continues the
            patience count, and after an early stop restores the best weights without training.
        monitor : str, optional
            The metric early stopping watches (default: the task's, :attr:`easytx.tasks.Task.monitor`:
            ``"val_accuracy"`` for classification, ``"val_macro_f1"`` for multi-label,
            ``"val_loss"`` otherwise); its direction is the task's
            (:meth:`~easytx.tasks.Task.direction`).
        log_dir : path, optional
            Write ``history.csv`` there (one row per epoch: learning rate, seconds and every
            metric), and TensorBoard logs when the ``tensorboard`` package is installed (without
            it an INFO line says so and only the CSV is written). A resumed run appends to the CSV.

        Returns
        -------
        History (of the model's Keras)
        """
        lr = _check_lr(lr)
        moms = (max_momentum, min_momentum) if cycle_momentum else None
        schedule = partial(
            schedules.one_cycle,
            max_lr=lr,
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            moms=moms,
        )
        schedule(0.0)  # validates the options before any work
        run = {
            "method": "fit_onecycle",
            "lr": lr,
            "epochs": epochs,
            "pct_start": pct_start,
            "div_factor": div_factor,
            "final_div_factor": final_div_factor,
            "moms": list(moms) if moms else None,
            "early_stopping": early_stopping,
            "monitor": monitor,
        }
        return self._run(
            epochs=epochs,
            schedule=schedule,
            callbacks=callbacks,
            class_weight=class_weight,
            checkpoint_folder=checkpoint_folder,
            verbose=verbose,
            resume=resume,
            run=run,
            early_stopping=early_stopping,
            monitor=monitor,
            log_dir=log_dir,
            tune_thresholds=tune_thresholds,
        )

    def fit(
        self,
        lr: float,
        n_cycles: int,
        cycle_len: int | None = None,
        cycle_mult: int = 1,
        *,
        checkpoint_folder: str | Path | None = None,
        class_weight: Any = None,
        callbacks: Sequence | None = None,
        verbose: int = 1,
        resume: bool = False,
        early_stopping: int | None = None,
        monitor: str | None = None,
        log_dir: str | Path | None = None,
        tune_thresholds: bool = True,
    ) -> Any:
        """ktrain's ``fit``: constant ``lr`` for ``n_cycles`` epochs, or SGDR with ``cycle_len``.

        With ``cycle_len``, the learning rate follows cosine annealing with warm restarts:
        ``n_cycles`` cycles, the ``i``-th lasting ``cycle_len * cycle_mult**i`` epochs.
        ``checkpoint_folder``, ``resume``, ``early_stopping``, ``monitor``, ``log_dir`` and
        ``tune_thresholds`` work as in :meth:`fit_onecycle`.
        """
        lr = _check_lr(lr)
        n_cycles = check_positive_int(n_cycles, "n_cycles")
        if cycle_len is None:
            epochs = n_cycles

            def schedule(progress):
                return lr, None
        else:
            cycle_len = check_positive_int(cycle_len, "cycle_len")
            cycle_mult = check_positive_int(cycle_mult, "cycle_mult")
            epochs = sum(cycle_len * cycle_mult**i for i in range(n_cycles))

            def schedule(progress):
                return schedules.sgdr(progress, max_lr=lr, n_cycles=n_cycles, cycle_mult=cycle_mult), None

        run = {
            "method": "fit",
            "lr": lr,
            "n_cycles": n_cycles,
            "cycle_len": cycle_len,
            "cycle_mult": cycle_mult,
            "early_stopping": early_stopping,
            "monitor": monitor,
        }
        return self._run(
            epochs=epochs,
            schedule=schedule,
            callbacks=callbacks,
            class_weight=class_weight,
            checkpoint_folder=checkpoint_folder,
            verbose=verbose,
            resume=resume,
            run=run,
            early_stopping=early_stopping,
            monitor=monitor,
            log_dir=log_dir,
            tune_thresholds=tune_thresholds,
        )

    def autofit(
        self,
        lr: float,
        epochs: int | None = None,
        early_stopping: int | None = None,
        reduce_on_plateau: int | None = None,
        reduce_factor: float = 2.0,
        cycle_momentum: bool = True,
        max_momentum: float = 0.95,
        min_momentum: float = 0.85,
        monitor: str = "val_loss",
        checkpoint_folder: str | Path | None = None,
        class_weight: Any = None,
        callbacks: Sequence | None = None,
        verbose: int = 1,
        *,
        resume: bool = False,
        log_dir: str | Path | None = None,
        tune_thresholds: bool = True,
    ) -> Any:
        """ktrain's ``autofit``: one triangular lr cycle per epoch, early stopping, plateau cuts.

        With ``epochs=None`` training runs until ``monitor`` stops improving
        (``early_stopping`` defaults to 5 and ``reduce_on_plateau`` to 2 then), and the best
        weights are restored. Early stopping is the one of :meth:`fit_onecycle` (there its
        ``monitor`` defaults to the task's metric; here to ``"val_loss"``, as in ktrain).
        ``checkpoint_folder``, ``resume``, ``log_dir`` and ``tune_thresholds`` work as in
        :meth:`fit_onecycle`.
        """
        lr = _check_lr(lr)
        run = {
            "method": "autofit",
            "lr": lr,
            "epochs": epochs,
            "early_stopping": early_stopping,
            "reduce_on_plateau": reduce_on_plateau,
            "reduce_factor": reduce_factor,
            "moms": [max_momentum, min_momentum] if cycle_momentum else None,
            "monitor": monitor,
        }
        if epochs is None:
            if self._val_dataset() is None:
                raise ConfigError(
                    "autofit(epochs=None) stops on validation loss, but this learner has no "
                    "labelled val_data. Pass epochs=..., or give get_learner(val_data=...)."
                )
            early_stopping = 5 if early_stopping is None else early_stopping
            reduce_on_plateau = 2 if reduce_on_plateau is None else reduce_on_plateau
            epochs = 1024
        epochs = check_positive_int(epochs, "epochs")
        moms = (max_momentum, min_momentum) if cycle_momentum else None
        steps = self.steps_per_epoch

        def schedule(progress):
            position = progress * epochs
            within = position - math.floor(position) if position < epochs else 1.0
            return schedules.triangular(within, max_lr=lr, moms=moms)

        mode = self.task.direction(monitor)  # declared by the task, never guessed from the name
        extra: list = []
        if reduce_on_plateau:
            extra.append(
                lambda driver: cb.PlateauScale(driver, monitor, int(reduce_on_plateau), reduce_factor, mode)
            )
        del steps
        return self._run(
            epochs=epochs,
            schedule=schedule,
            callbacks=callbacks,
            class_weight=class_weight,
            checkpoint_folder=checkpoint_folder,
            verbose=verbose,
            extra_callbacks=extra,
            resume=resume,
            run=run,
            early_stopping=early_stopping or None,  # ktrain's 0 turns it off
            monitor=monitor,
            log_dir=log_dir,
            tune_thresholds=tune_thresholds,
        )

    def lr_find(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_steps: int = 100,
        *,
        stop_factor: float = 4.0,
        max_epochs: int | None = None,
        show_plot: bool = False,
        suggest: bool = True,
        verbose: int = 1,
        **kwargs: Any,
    ) -> LRSuggestions:
        """Sweep the learning rate geometrically and suggest one; the model is left unchanged.

        The sweep trains ``num_steps`` batches, the learning rate growing by the same factor each
        batch from ``start_lr`` to ``end_lr``, and passes over the training data as many times as
        that takes (10 batches of data give 10 passes for the default 100 steps). It stops early
        when the smoothed loss blows up. The weights and optimizer state are snapshotted in
        memory and restored afterwards (the compiled model, optimizer and metrics are kept).

        Parameters
        ----------
        start_lr, end_lr : float
            Sweep range.
        num_steps : int
            Batches in the sweep, 100 by default as fastai; fewer than 50 log a warning (the
            rate then grows by more than 1.4x a batch on the default range and the suggestions
            get coarse).
        stop_factor : float
            Stop early once the smoothed loss exceeds this multiple of its minimum.
        max_epochs : int, optional
            Accepted for ktrain scripts, where it sets the sweep's length in passes over the
            data. Here ``num_steps`` sets the length and ``max_epochs`` never shortens it:
            a ``max_epochs`` that would stop the sweep before ``num_steps`` batches is ignored
            with a warning (short sweeps on small data gave suggestions outside any useful
            range). Pass a smaller ``num_steps`` for a shorter sweep.
        show_plot : bool
            Also draw :meth:`lr_plot`.
        suggest : bool
            Log the suggestions (INFO).
        verbose : int
            Keras progress bar (0: silent).

        Returns
        -------
        LRSuggestions
            Use ``.min_div5``: ``learner.fit_onecycle(learner.lr_find().min_div5, 2)``.
        """
        kwargs.pop("lr_mult", None)  # ktrain argument; num_steps replaces it
        kwargs.pop("restore_weights_only", None)
        if kwargs:
            raise ConfigError(f"Unexpected argument(s) for lr_find: {sorted(kwargs)}.")
        start_lr, end_lr = _check_lr(start_lr), _check_lr(end_lr)
        if end_lr <= start_lr:
            raise ConfigError(f"`end_lr` must exceed `start_lr`. Received: {start_lr}, {end_lr}")
        num_steps = check_positive_int(num_steps, "num_steps")
        if num_steps < lr_rules.MIN_STEPS:
            logger.warning(
                "lr_find(num_steps=%d) sweeps fewer than %d batches: the learning rate grows %.2gx "
                "per batch and the suggestions are coarse. The default, 100, repeats small "
                "training data as often as needed.",
                num_steps,
                lr_rules.MIN_STEPS,
                (end_lr / start_lr) ** (1 / max(num_steps - 1, 1)),
            )
        per_epoch = self.steps_per_epoch
        epochs = math.ceil(num_steps / per_epoch)
        if max_epochs is not None:
            max_epochs = check_positive_int(max_epochs, "max_epochs")
            if max_epochs < epochs:
                logger.warning(
                    "lr_find(max_epochs=%d) no longer shortens the sweep: it runs num_steps=%d "
                    "batches, %d passes over the %d training batches. Pass a smaller num_steps "
                    "for a shorter sweep.",
                    max_epochs,
                    num_steps,
                    epochs,
                    per_epoch,
                )
        if epochs > 1:
            logger.info(
                "lr_find: %d training batches, passed over %d times for a %d-step sweep.",
                per_epoch,
                epochs,
                num_steps,
            )
        weights = self.model.get_weights()
        optimizer = self.model.optimizer
        opt_state = {id(v): v.numpy() for v in optimizer_variables(optimizer)}
        finder = cb.LRFinderCallback(start_lr, end_lr, num_steps, stop_factor=stop_factor)
        self._seed()
        try:
            self.model.fit(
                self._train_dataset(),
                epochs=epochs,
                callbacks=cb.for_keras([finder], self.model),
                shuffle=False,
                verbose=verbose,
            )
        finally:
            self.model.set_weights(weights)
            for v in optimizer_variables(optimizer):
                saved = opt_state.get(id(v))
                v.assign(saved if saved is not None else np.zeros(v.shape, np.asarray(v.numpy()).dtype))
        if len(finder.losses) < 3:
            raise ConfigError(
                f"lr_find recorded only {len(finder.losses)} step(s); it needs more training "
                "batches. Use a smaller batch_size or more data."
            )
        self.lr_finder_ = LRSuggestions(
            **lr_rules.suggest(finder.lrs, finder.losses),
            lrs=list(map(float, finder.lrs)),
            losses=list(map(float, finder.losses)),
        )
        if len(finder.losses) < num_steps:
            logger.info(
                "lr_find stopped after %d of %d steps, at lr=%.2e: the loss diverged.",
                len(finder.losses),
                num_steps,
                finder.lrs[-1],
            )
        if show_plot:
            from . import plots

            plots.show(self.lr_plot())
        if suggest:
            logger.info("lr_find suggestions: %s", self.lr_finder_)
        return self.lr_finder_

    def lr_plot(self, n_skip_beginning: int = 5, n_skip_end: int = 2, suggest: bool = True) -> Any:
        """Plot loss against learning rate (log axis) with the suggestions; returns a Figure."""
        if self.lr_finder_ is None:
            raise NotFittedError("Run learner.lr_find() before learner.lr_plot().")
        from . import plots

        return plots.lr_plot(
            self.lr_finder_, n_skip_beginning=n_skip_beginning, n_skip_end=n_skip_end, suggest=suggest
        )

    # ------------------------------------------------------------------ freezing and options
    def freeze(self, n_blocks: int | None = None) -> None:
        """Freeze the backbone (``None``) or its embeddings + first ``n_blocks`` encoder blocks.

        The task head always stays trainable. The optimizer is rebuilt (its state is reset).
        """
        backend.set_frozen(self.model, n_blocks)
        self._compile()

    def unfreeze(self) -> None:
        """Make every layer trainable again (the optimizer state is reset)."""
        backend.set_frozen(self.model, 0)
        self._compile()

    def set_weight_decay(self, wd: float = 0.01) -> None:
        """Set AdamW's decoupled weight decay (never applied to LayerNorm weights or biases);
        ktrain's default ``0.01`` without an argument."""
        if not isinstance(wd, (int, float)) or wd < 0:
            raise ConfigError(f"`wd` must be a number >= 0. Received: wd={wd!r}")
        self.weight_decay = float(wd)
        cb.inner_optimizer(self.model.optimizer).weight_decay = float(wd)

    def get_weight_decay(self) -> float:
        return self.weight_decay

    # ------------------------------------------------------------------ model files
    def save_model(self, folder: str | Path) -> Path:
        """Write the model's config and weights to ``folder`` (``config.json`` +
        ``model.safetensors``, no pickle): ktrain's ``learner.save_model``.

        The folder holds the model only; :meth:`load_model` reads it back into this learner. To
        keep a model for prediction, save a predictor (``easytx.get_predictor(...).save()``).
        """
        path = Path(folder).expanduser()
        if path.is_file():
            raise ConfigError(f"{path} is a file; save_model() writes a folder. Pass another path.")
        path.mkdir(parents=True, exist_ok=True)
        backend.save_model(self.model, path)
        return path

    def load_model(self, folder: str | Path) -> None:
        """Replace this learner's model by the one :meth:`save_model` wrote to ``folder``.

        The new model keeps the task and preprocessor of the current one and is compiled afresh
        (the optimizer state starts anew, as in ktrain).
        """
        from .bindings import copy_binding

        path = Path(folder).expanduser()
        if not (path / "config.json").is_file():
            raise ArtifactError(
                f"{path} holds no config.json: it is not a folder written by learner.save_model()."
            )
        model = backend.load_model(path, head=self.task.head, backend=backend.backend_of(self.model))
        copy_binding(self.model, model)
        self.model = model
        self._compile()

    # ------------------------------------------------------------------ evaluation
    def _eval_data(self, val_data: TransformerDataset | None) -> TransformerDataset:
        data = val_data if val_data is not None else self.val_data
        if data is None or data.y is None:
            raise ConfigError("No labelled validation data: pass val_data=... here or to get_learner().")
        preproc = preproc_of(self.model)
        if preproc is not None:
            preproc.prepare_dataset(data)
        return data

    def predict_proba(self, data: TransformerDataset) -> np.ndarray:
        """Task probabilities for every row of ``data`` (in order)."""
        logits = predict_logits(self.model, data, batch_size=self.eval_batch_size)
        return self.task.probabilities(logits, labels=self._labels(None, None))

    def validate(
        self,
        val_data: TransformerDataset | None = None,
        print_report: bool = True,
        class_names: Sequence | None = None,
        preproc: Any = None,
    ) -> Any:
        """Evaluate on validation data; print the task's report; return its matrix.

        The report and the matrix come from the task: for classification scikit-learn's report
        and the confusion matrix; for multi-label the per-label report and the per-label
        confusion matrices ``(n_labels, 2, 2)``; for regression MAE/RMSE/R2 per target and
        ``None``.

        Validation data cut into sliding windows (``Transformer(windows=True)``) is scored per
        text: the windows' answers are pooled first (their mean, see ``docs/long-texts.md``).

        Parameters
        ----------
        val_data : TransformerDataset, optional
            Defaults to the learner's ``val_data``.
        print_report : bool
            Print scikit-learn's classification report.
        class_names : list, optional
            Accepted for ktrain compatibility; the preprocessor's classes are used when the model
            was built by easytx.
        """
        data = self._eval_data(val_data)
        proba, data = merge_windows(self.task, self.predict_proba(data), data)
        labels = self._labels(preproc, class_names)
        text, matrix = self.task.report(data.y, proba, labels)
        if print_report:
            _console(text)
        return matrix

    def tune_thresholds(self, val_data: TransformerDataset | None = None, **options: Any) -> list[float]:
        """Multi-label only: set each label's decision threshold to maximise its F1 on the
        validation data; the thresholds live on the task and are saved with the predictor.

        Returns the thresholds in class order; ``options`` go to
        :meth:`easytx.tasks.MultiLabel.tune_thresholds` (``grid=``).
        """
        if not hasattr(self.task, "tune_thresholds"):
            raise ConfigError(
                f"tune_thresholds() applies to multi-label models; this learner's task is {self.task.name!r}."
            )
        data = self._eval_data(val_data)
        proba, data = merge_windows(self.task, self.predict_proba(data), data)
        return self.task.tune_thresholds(data.y, proba, **options)

    def _labels(self, preproc: Any, class_names: Sequence | None) -> Any:
        from .labels import ClassLabels

        if preproc is not None and hasattr(preproc, "labels_"):
            return preproc.labels_
        own = preproc_of(self.model)
        if own is not None and hasattr(own, "labels_") and not class_names:
            return own.labels_
        k = int(self.model.config.num_labels)
        id2label = getattr(self.model.config, "id2label", None) or {}  # set by get_classifier()
        names = list(class_names) if class_names else [str(id2label.get(i, i)) for i in range(k)]
        encoder = ClassLabels(names)
        encoder.classes_, encoder.label_type_ = names, "str"
        return encoder

    def evaluate(
        self,
        test_data: TransformerDataset | None = None,
        print_report: bool = True,
        class_names: Sequence | None = None,
        preproc: Any = None,
    ) -> Any:
        """ktrain's alias of :meth:`validate` (``test_data`` is its ``val_data``)."""
        return self.validate(test_data, print_report=print_report, class_names=class_names, preproc=preproc)

    def top_losses(
        self, n: int = 4, val_data: TransformerDataset | None = None, preproc: Any = None
    ) -> list[tuple]:
        """The ``n`` validation examples with the highest loss, highest first (prints nothing).

        Returns
        -------
        list of (index, loss, true label, predicted label, text)
            ``index`` is the row in the validation data.
        """
        n = check_positive_int(n, "n")
        data = self._eval_data(val_data)
        logits = predict_logits(self.model, data, batch_size=self.eval_batch_size)
        losses = self.task.per_example_loss(data.y, logits)
        labels = self._labels(preproc, None)
        proba = self.task.probabilities(logits, labels=labels)
        predicted = self.task.decode(proba, labels, texts=data.texts, inputs=data)
        truth = self.task.truth(data.y, labels)
        return [
            (int(i), float(losses[i]), truth[i], predicted[i], data.texts[i])
            for i in np.argsort(-losses, kind="stable")[:n]
        ]

    def view_top_losses(
        self, n: int = 4, preproc: Any = None, val_data: TransformerDataset | None = None
    ) -> list[tuple]:
        """Show the ``n`` validation examples with the highest loss, with their texts.

        Returns
        -------
        list of (index, loss, true label, predicted label, text)
            As :meth:`top_losses`.
        """
        rows = self.top_losses(n, val_data=val_data, preproc=preproc)
        for i, loss, truth, predicted, text in rows:
            _console(f"----------\nid:{i} | loss:{loss:.2f} | true:{truth} | pred:{predicted}\n{text}")
        return rows

    def plot(self, what: str = "loss") -> Any:
        """Plot the per-batch ``"lr"``/``"momentum"`` or an epoch metric of the last fit.

        Parameters
        ----------
        what : str
            ``"lr"`` or ``"momentum"`` (every training batch so far), ``"loss"`` or any metric
            (``"accuracy"``...) per epoch of the last fit, train and validation.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from . import plots

        if not self.batch_history:
            raise NotFittedError("Nothing to plot yet: train first.")
        return plots.history_plot(self.batch_history, self.history, what)

    def plot_confusion_matrix(
        self,
        val_data: TransformerDataset | None = None,
        *,
        normalize: bool = False,
        class_names: Sequence | None = None,
    ) -> Any:
        """Plot the confusion matrix on validation data (rows: true class, columns: predicted).

        Parameters
        ----------
        val_data : TransformerDataset, optional
            Defaults to the learner's ``val_data``.
        normalize : bool
            Show row fractions (recall on the diagonal) instead of counts.
        class_names : list, optional
            Names in class-id order (default: the names the model was built with).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from . import plots

        plots._pyplot()  # fail before predicting when matplotlib is missing
        data = self._eval_data(val_data)
        labels = self._labels(None, class_names)
        _, matrix = self.task.report(data.y, self.predict_proba(data), labels)
        if matrix is None or np.ndim(matrix) != 2:
            raise ConfigError(
                f"A confusion matrix plot needs single-label classes; this model's task is "
                f"{self.task.name!r}. Use learner.validate() for its report."
            )
        return plots.confusion_matrix_plot(matrix, labels.classes_, normalize=normalize)


def _encode_text_data(model: Any, train_data: Any, val_data: Any, batch_size: int | None) -> tuple:
    """Tokenize TextData with the preprocessor that built ``model`` (the article's chaining)."""
    preproc = preproc_of(model)
    if preproc is None:
        raise DataTypeError(
            "get_learner received TextData, which needs the Transformer that built `model` to be "
            "tokenized. Build the model with t.get_classifier(), or pass t.preprocess_train(data)."
        )
    if isinstance(train_data, TextData):
        batch_size = batch_size or train_data.batch_size
        check_texts(train_data.texts, name="train_data")  # training refuses empty texts
        train_data = preproc.preprocess_test(train_data)
    if isinstance(val_data, TextData):
        val_data = preproc.preprocess_test(val_data)
    return train_data, val_data, batch_size


def _check_distributed(strategy: Any, batch_size: int, seed: int | None) -> int | None:
    """Log how the global batch is split; give multi-worker runs a shared data-order seed."""
    replicas = distribute.num_replicas(strategy)
    if replicas > 1:
        logger.info(
            "%s: global batch %d = %s per replica.",
            distribute.describe(strategy),
            batch_size,
            batch_size // replicas if batch_size % replicas == 0 else f"~{batch_size / replicas:.1f}",
        )
        if batch_size % replicas:
            logger.warning(
                "batch_size=%d is not a multiple of the %d replicas; replicas get unequal shares.",
                batch_size,
                replicas,
            )
    if seed is None and distribute.is_multi_worker(strategy):
        logger.info("Multi-worker training without a seed: using seed=0 so workers shuffle alike.")
        seed = 0
    return seed


def get_learner(
    model: Any,
    train_data: TransformerDataset | None = None,
    val_data: TransformerDataset | None = None,
    batch_size: int | None = None,
    eval_batch_size: int | None = None,
    workers: int = 1,
    use_multiprocessing: bool = False,
    *,
    weight_decay: float = 0.01,
    seed: int | None = None,
    bucket: bool = True,
    jit_compile: bool | None = None,
    strategy: Any = None,
    mixed_precision: str | None = None,
    accumulation_steps: int = 1,
    head_lr_multiplier: float | None = None,
) -> Learner:
    """Wrap a model and its data in a :class:`Learner` (ktrain's ``get_learner``).

    Parameters
    ----------
    model : transformers TF model
        From :meth:`Transformer.get_classifier`.
    train_data, val_data : TransformerDataset or TextData
        From :meth:`Transformer.preprocess_train` / :meth:`~Transformer.preprocess_test`, or
        :class:`~easytx.TextData` (tokenized with the Transformer that built ``model``).
        ``train_data`` may also be a :class:`~easytx.preprocess.StreamingDataset` from
        :meth:`Transformer.preprocess_train_file` (a file streamed in constant memory).
    batch_size : int
        Training batch size (default: the data's, e.g. ``train.batch(16)``, else 32).
    eval_batch_size : int, optional
        Batch size for validation and prediction.
    workers, use_multiprocessing :
        Accepted for ktrain compatibility; data loading runs in a ``tf.data`` pipeline.
    weight_decay : float
        AdamW decoupled weight decay (not applied to LayerNorm weights and biases).
    seed : int, optional
        Makes data order, dropout and initialisation repeatable on CPU.
    bucket : bool
        Group rows of similar length into batches (less padding, faster).
    jit_compile : bool, optional
        XLA-compile the training step.
    strategy : tf.distribute.Strategy or str, optional
        Train on several devices or machines: a strategy, or ``"auto"``, ``"mirrored"``,
        ``"multi_worker"``, ``"tpu"``, ``"default"`` (see :mod:`easytx.distribute`). ``batch_size``
        is then the *global* batch size, split evenly across the replicas. A model built outside
        the strategy's scope is re-created inside it (weights copied). ``None`` keeps the
        strategy the model was built under. See ``docs/distributed.md``.
    mixed_precision : {"mixed_float16", "mixed_bfloat16", "float32"}, optional
        Keras dtype policy to train under (the model is re-created under it if needed; variables
        stay float32 and the saved predictor is float32).
    accumulation_steps : int
        Update the weights once every ``accumulation_steps`` batches with their mean gradient:
        an effective batch of ``batch_size * accumulation_steps`` in the memory of one
        ``batch_size`` batch (see :mod:`easytx.steps`). Single-device only.
    head_lr_multiplier : float, optional
        The task head (the classifier layers a fine-tune initialises at random, see
        :func:`easytx.backend.head_variables`) learns at this many times the learning rate of
        the pretrained encoder: discriminative learning rates, so that a new head catches up
        with an encoder that must move little. ``1`` trains every weight at one rate. Applies to
        every schedule and ``lr_find``; weight decay keeps the base rate. Default ``None``: the
        task's (:attr:`easytx.tasks.Task.head_lr_multiplier`), 30 for multi-label and 1 for
        the other tasks, as measured in ``docs/training-defaults.md`` (30 lifted multi-label
        macro-F1 by 0.20, left single-text classification unchanged and hurt a sentence-pair
        task).

    Examples
    --------
    >>> learner = easytx.get_learner(t.get_classifier(), train_data=trn, val_data=val,
    ...                              batch_size=32)  # doctest: +SKIP
    """
    return build_learner(
        Learner,
        model,
        train_data,
        val_data,
        batch_size=batch_size,
        eval_batch_size=eval_batch_size,
        weight_decay=weight_decay,
        seed=seed,
        bucket=bucket,
        jit_compile=jit_compile,
        strategy=strategy,
        mixed_precision=mixed_precision,
        accumulation_steps=accumulation_steps,
        head_lr_multiplier=head_lr_multiplier,
    )


def build_learner(
    cls: type,
    model: Any,
    train_data: Any,
    val_data: Any,
    *,
    batch_size: int | None,
    eval_batch_size: int | None,
    weight_decay: float,
    seed: int | None,
    bucket: bool,
    jit_compile: bool | None,
    strategy: Any,
    mixed_precision: str | None,
    accumulation_steps: int,
    head_lr_multiplier: float | None = None,
) -> Any:
    """:func:`get_learner`'s checks, then ``cls(...)``: a :class:`Learner` subclass (the ktrain
    namespace's) gets the same validation as ``Learner`` itself."""
    if isinstance(train_data, TextData) or isinstance(val_data, TextData):
        train_data, val_data, batch_size = _encode_text_data(model, train_data, val_data, batch_size)
    if train_data is None:
        raise DataTypeError("get_learner needs train_data (from preprocess_train()).")
    streaming = isinstance(train_data, StreamingDataset)
    for name, data in (("train_data", train_data), ("val_data", val_data)):
        if streaming and name == "train_data":
            continue
        if data is not None and not isinstance(data, TransformerDataset):
            raise DataTypeError(
                f"`{name}` must come from Transformer.preprocess_train()/preprocess_test(). "
                f"Received an object of type {type(data).__name__}."
            )
    if train_data.y is None and not streaming:
        raise DataTypeError("`train_data` has no labels; pass y to preprocess_train().")
    if not hasattr(model, "config") or not hasattr(model, "fit"):
        raise DataTypeError(
            "`model` must be a Hugging Face TF model from Transformer.get_classifier(). "
            f"Received an object of type {type(model).__name__}."
        )
    if batch_size is None:
        batch_size = train_data.batch_size or 32
    batch_size = check_positive_int(batch_size, "batch_size")
    if eval_batch_size is not None:
        check_positive_int(eval_batch_size, "eval_batch_size")
    if not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ConfigError(f"`weight_decay` must be >= 0. Received: {weight_decay!r}")
    accumulation_steps = check_positive_int(accumulation_steps, "accumulation_steps")
    if head_lr_multiplier is not None and (
        isinstance(head_lr_multiplier, bool)
        or not isinstance(head_lr_multiplier, (int, float))
        or not (head_lr_multiplier > 0 and math.isfinite(head_lr_multiplier))
    ):
        raise ConfigError(
            "`head_lr_multiplier` must be a positive number (the head's learning rate over the "
            f"encoder's). Received: head_lr_multiplier={head_lr_multiplier!r}. Use 1 for one rate "
            "everywhere, or None for the task's default (30 for multi-label, 1 otherwise)."
        )
    preproc = preproc_of(model)
    if preproc is not None:  # data made before the model (e.g. a BiLSTM tagger's word ids)
        for data in (train_data, val_data):
            if data is not None and not isinstance(data, StreamingDataset):
                preproc.prepare_dataset(data)
    model = distribute.prepare_model(model, strategy=strategy, mixed_precision=mixed_precision)
    seed = _check_distributed(distribute.strategy_of(model), batch_size, seed)
    if accumulation_steps > 1 and distribute.num_replicas(distribute.strategy_of(model)) > 1:
        raise ConfigError(
            f"accumulation_steps={accumulation_steps} works on one device only; this model trains "
            f"on {distribute.num_replicas(distribute.strategy_of(model))} replicas. Raise batch_size "
            "instead (it is split across the replicas)."
        )
    return cls(
        model,
        train_data,
        val_data,
        batch_size=batch_size,
        eval_batch_size=eval_batch_size,
        weight_decay=float(weight_decay),
        seed=seed,
        bucket=bucket,
        jit_compile=jit_compile,
        accumulation_steps=accumulation_steps,
        head_lr_multiplier=None if head_lr_multiplier is None else float(head_lr_multiplier),
    )
