"""Training callbacks: a per-batch schedule driver (learning rate + Adam momentum), the
learning-rate finder, per-batch history, plateau reduction, per-epoch checkpoints, the best
weights (early stopping) and training logs (a CSV history, TensorBoard where it is installed).

Each callback is small; the maths lives in :mod:`easytx.schedules` and :mod:`easytx.lr_rules`.
They are written once for both Keras versions: each is a plain object with Keras' callback hooks,
and :func:`for_keras` wraps it in a callback of the model's own Keras (tf-keras or Keras 3) when
training starts.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

from . import (
    _env,  # noqa: F401
    lr_rules,
    schedules,
)
from ._keras import save_weights_h5, save_weights_keras2_h5, weights_file_name

logger = logging.getLogger(__name__)

__all__ = [
    "Callback",
    "for_keras",
    "inner_optimizer",
    "ScheduleCallback",
    "BatchHistory",
    "LRFinderCallback",
    "PlateauScale",
    "EpochCheckpoint",
    "BestWeights",
    "CSVHistory",
    "HISTORY_CSV",
    "log_callbacks",
    "tensorboard_available",
]

#: the file :class:`CSVHistory` writes in a ``log_dir``
HISTORY_CSV = "history.csv"


def inner_optimizer(optimizer):
    """The optimizer itself, unwrapped from the loss-scale wrapper ``mixed_float16`` adds."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def _set_hyper(optimizer, lr: float, momentum: float | None) -> None:
    optimizer = inner_optimizer(optimizer)
    optimizer.learning_rate.assign(lr)
    if momentum is not None and hasattr(optimizer.beta_1, "assign"):
        optimizer.beta_1.assign(momentum)


class Callback:
    """Base of easytx's callbacks: Keras' hooks, bound to a model by :func:`for_keras`."""

    def __init__(self) -> None:
        self.model = None
        self.params: dict = {}

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


_ADAPTERS: dict = {}


def _adapter(keras: object) -> type:
    """A callback class of ``keras`` that forwards the training hooks to an easytx callback."""
    key = id(keras)
    if key not in _ADAPTERS:

        class EasytxCallback(keras.callbacks.Callback):
            def __init__(self, inner: Callback):
                super().__init__()
                self.inner = inner

            def set_model(self, model):
                super().set_model(model)
                self.inner.model = model

            def set_params(self, params):
                super().set_params(params)
                self.inner.params = params

            def on_train_begin(self, logs=None):
                self.inner.on_train_begin(logs)

            def on_train_end(self, logs=None):
                self.inner.on_train_end(logs)

            def on_epoch_begin(self, epoch, logs=None):
                self.inner.on_epoch_begin(epoch, logs)

            def on_epoch_end(self, epoch, logs=None):
                self.inner.on_epoch_end(epoch, logs)

            def on_train_batch_begin(self, batch, logs=None):
                self.inner.on_train_batch_begin(batch, logs)

            def on_train_batch_end(self, batch, logs=None):
                self.inner.on_train_batch_end(batch, logs)

        _ADAPTERS[key] = EasytxCallback
    return _ADAPTERS[key]


def for_keras(callbacks: list, model: object) -> list:
    """``callbacks`` with every easytx :class:`Callback` wrapped for ``model``'s Keras.

    Keras callbacks (the user's, EarlyStopping) pass through unchanged.
    """
    from ._keras import keras_of

    adapter = _adapter(keras_of(model))
    return [adapter(c) if isinstance(c, Callback) else c for c in callbacks]


class ScheduleCallback(Callback):
    """Set lr (and momentum) before every batch from ``schedule(progress) -> (lr, mom)``.

    Parameters
    ----------
    schedule : callable
        Pure function of progress in [0, 1].
    total_steps : int
        Steps in the whole run (``progress = step / total_steps``).
    start_step : int
        Steps already done (to resume a schedule where it stopped).

    Attributes
    ----------
    scale : float
        Multiplies the learning rate (changed by :class:`PlateauScale`).
    """

    def __init__(self, schedule: Callable[[float], tuple], total_steps: int, start_step: int = 0):
        super().__init__()
        self.schedule = schedule
        self.total_steps = max(1, int(total_steps))
        self.step = int(start_step)
        self.scale = 1.0

    def on_train_batch_begin(self, batch, logs=None):
        progress = min(self.step / self.total_steps, 1.0)
        lr, mom = self.schedule(progress)
        _set_hyper(self.model.optimizer, lr * self.scale, mom)
        self.step += 1


class BatchHistory(Callback):
    """Record lr, momentum and loss of every batch into ``store`` (a dict of lists)."""

    def __init__(self, store: dict):
        super().__init__()
        self.store = store

    def on_train_batch_end(self, batch, logs=None):
        opt = inner_optimizer(self.model.optimizer)
        self.store.setdefault("lr", []).append(float(opt.learning_rate.numpy()))
        beta = opt.beta_1.numpy() if hasattr(opt.beta_1, "numpy") else opt.beta_1
        self.store.setdefault("momentum", []).append(float(beta))
        self.store.setdefault("loss", []).append(float((logs or {}).get("loss", math.nan)))


class LRFinderCallback(Callback):
    """Raise the lr geometrically each batch; record the smoothed loss; stop when it diverges.

    Parameters
    ----------
    start_lr, end_lr : float
        Range of the sweep.
    num_steps : int
        Batches in the sweep (the learner runs as many passes over the data as that takes).
    stop_factor : float
        Stop once the smoothed loss exceeds ``stop_factor`` times its minimum.
    beta : float
        Smoothing of the loss (:class:`easytx.lr_rules.LossSmoother`: exponential moving
        average, bias-corrected).

    Attributes
    ----------
    lrs, losses : list of float
        The learning rate and the smoothed loss of each batch swept.
    raw_losses : list of float
        Each batch's own loss, before smoothing.
    """

    def __init__(
        self, start_lr: float, end_lr: float, num_steps: int, stop_factor: float = 4.0, beta: float = 0.98
    ):
        super().__init__()
        self.start_lr, self.end_lr = start_lr, end_lr
        self.num_steps = max(2, int(num_steps))
        self.stop_factor, self.beta = stop_factor, beta
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.raw_losses: list[float] = []
        self._smoother = lr_rules.LossSmoother(beta)
        self._best = math.inf
        self._step = 0

    def on_train_batch_begin(self, batch, logs=None):
        progress = min(self._step / max(self.num_steps - 1, 1), 1.0)
        lr = schedules.exponential(progress, self.start_lr, self.end_lr)
        self.model.optimizer.learning_rate.assign(lr)
        self._lr = lr

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        loss = float((logs or {}).get("loss", math.nan))
        # Keras reports the running mean over the epoch; undo it to get this batch's loss.
        batch_loss = loss * (batch + 1) - getattr(self, "_sum", 0.0) if batch else loss
        self._sum = loss * (batch + 1)
        if not math.isfinite(batch_loss):
            self.model.stop_training = True
            return
        smooth = self._smoother(batch_loss)
        self.lrs.append(self._lr)
        self.losses.append(smooth)
        self.raw_losses.append(batch_loss)
        self._best = min(self._best, smooth)
        if self._step >= self.num_steps or (self._step > 5 and smooth > self.stop_factor * self._best):
            self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self._sum = 0.0


class PlateauScale(Callback):
    """Divide a :class:`ScheduleCallback`'s learning rate by ``factor`` when ``monitor`` stalls.

    ``mode`` says which way ``monitor`` improves (``"min"`` for losses and errors, ``"max"`` for
    accuracy and F1): the task declares it (:meth:`easytx.tasks.Task.direction`).
    """

    def __init__(
        self, schedule: ScheduleCallback, monitor: str, patience: int, factor: float, mode: str = "min"
    ):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` must be 'min' or 'max'. Received: {mode!r}")
        self.schedule, self.monitor, self.mode = schedule, monitor, mode
        self.patience, self.factor = patience, factor
        self._best = None
        self._wait = 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        better = self._best is None or (value > self._best if self.mode == "max" else value < self._best)
        if better:
            self._best, self._wait = value, 0
            return
        self._wait += 1
        if self._wait >= self.patience:
            self.schedule.scale /= self.factor
            self._wait = 0
            logger.info(
                "%s has not improved for %d epoch(s): learning rate divided by %s.",
                self.monitor,
                self.patience,
                self.factor,
            )


class EpochCheckpoint(Callback):
    """After every epoch, save what a crashed run needs to resume (see :mod:`easytx.checkpoints`).

    Writes ``folder/weights-EE.h5`` (weights), ``folder/optimizer-EE.safetensors`` (optimizer
    variables; only the latest is kept) and, last and atomically, ``folder/progress.json`` with the
    epoch, the schedule step, the learning-rate scale and the data-order epoch. With ``best`` (a
    :class:`BestWeights` that sees each epoch before this callback) it also records the early
    stopping state and the file of the best epoch's weights, so that a resumed run goes on
    counting patience from where it was and can restore the best weights.

    ``weights_name(epoch, logs)`` (1-based epoch, the epoch's logs) names the weights files
    otherwise (``easytx.ktrain`` names them as ktrain does, ``weights-EE-{val_loss}.hdf5``); a
    name not ending in ``.weights.h5`` gets the Keras 2 h5 layout, which ``model.load_weights``
    reads under any ``.h5``/``.hdf5`` name in both Kerases. ``progress.json`` then also lists
    every epoch's file (``weights_files``).
    """

    def __init__(
        self,
        folder: str | Path,
        schedule: ScheduleCallback | None = None,
        extra: dict | None = None,
        data: object = None,
        best: BestWeights | None = None,
        weights_name: Callable[[int, dict], str] | None = None,
    ):
        super().__init__()
        self.folder = Path(folder)
        self.schedule = schedule
        self.extra = extra or {}
        self.data = data
        self.best = best
        self.weights_name = weights_name
        self._files: dict[str, str] = {}

    def on_train_begin(self, logs=None):
        if self.weights_name is not None:  # a resumed run goes on listing the files of its epochs
            from . import checkpoints

            previous = checkpoints.read_progress(self.folder) or {}
            self._files = dict(previous.get("weights_files") or {})

    def _name(self, epoch: int, logs: dict | None) -> str:
        if self.weights_name is None:
            return weights_file_name(self.model, f"weights-{epoch:02d}")
        return self.weights_name(epoch, dict(logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.distribute_strategy.extended.should_checkpoint:
            return  # multi-worker training: only the chief writes
        from . import checkpoints

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / self._name(epoch + 1, logs)
        tmp = path.with_name(".tmp-" + path.name)  # Keras 3 wants the name to end in .weights.h5
        if path.name.endswith(".weights.h5"):
            save_weights_h5(self.model, tmp)
        else:
            save_weights_keras2_h5(self.model, tmp)
        checkpoints._replace(tmp, path)
        optimizer_path = self.folder / f"optimizer-{epoch + 1:02d}.safetensors"
        checkpoints.save_optimizer_state(self.model.optimizer, optimizer_path)
        state = {
            "epoch": epoch + 1,
            "weights": path.name,
            "optimizer": optimizer_path.name,
            "schedule_step": None if self.schedule is None else self.schedule.step,
            "lr_scale": None if self.schedule is None else self.schedule.scale,
            "data_epoch": getattr(self.data, "_epoch", None),
            "logs": {k: float(v) for k, v in (logs or {}).items()},
            **self.extra,
        }
        if self.weights_name is not None:
            self._files[str(epoch + 1)] = path.name
            state["weights_files"] = dict(self._files)
        if self.best is not None and self.best.best_epoch is not None:
            state["early_stopping"] = self.best.state()
            best = self.best.best_epoch
            state["best_weights"] = self._files.get(str(best)) or self._name(best, None)
        checkpoints.write_progress(self.folder, state)
        for stale in self.folder.glob("optimizer-*.safetensors"):
            if stale != optimizer_path:
                stale.unlink(missing_ok=True)
        logger.info("Saved checkpoint %s", path)


class BestWeights(Callback):
    """Keep an in-memory copy of the weights of the best epoch so far by ``monitor``; with
    ``patience``, stop early and restore them (early stopping).

    One object serves the three uses: the weights Ctrl-C falls back to, ``early_stopping=`` of
    :meth:`~easytx.Learner.fit_onecycle`, :meth:`~easytx.Learner.fit` and
    :meth:`~easytx.Learner.autofit`, and the early-stopping state a checkpoint records
    (:meth:`state`, :meth:`resume_from`).

    Parameters
    ----------
    monitor : str
        A key of the epoch logs (``"val_loss"``, ``"val_accuracy"``...).
    mode : {"min", "max"}
        Which way ``monitor`` improves: the task declares it (:meth:`easytx.tasks.Task.direction`).
    patience : int, optional
        Stop training after this many epochs without improvement, then restore the best epoch's
        weights when training ends. ``None``: only keep the copy (no stopping, no restoring).

    Attributes
    ----------
    best : float or None
        Best value of ``monitor`` so far.
    best_epoch : int or None
        Its epoch (1-based).
    weights : list of arrays or None
        The weights at the end of ``best_epoch``.
    stopped_epoch : int or None
        The epoch (1-based) after which early stopping ended training.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int | None = None):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` must be 'min' or 'max'. Received: {mode!r}")
        self.monitor, self.mode, self.patience = monitor, mode, patience
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.weights: list | None = None
        self.weights_file: Path | None = None  # the best epoch's checkpoint file, on resume
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.last_epoch: int | None = None
        self._warned = False

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        self.last_epoch = epoch + 1
        value = (logs or {}).get(self.monitor)
        if value is None:
            if self.patience is not None and not self._warned:
                self._warned = True
                logger.warning(
                    "Early stopping watches %r, which the epoch's logs lack (they have %s); training "
                    "runs all its epochs.",
                    self.monitor,
                    sorted(logs or {}),
                )
            return
        value = float(value)
        if not math.isfinite(value):
            self.wait += 1
        elif self._better(value):
            self.best, self.best_epoch, self.wait = value, epoch + 1, 0
            self.weights, self.weights_file = self.model.get_weights(), None
        else:
            self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True
            logger.info(
                "Early stopping after epoch %d: %s has not improved for %d epoch(s) (best %.4g at epoch %d).",
                epoch + 1,
                self.monitor,
                self.wait,
                self.best if self.best is not None else math.nan,
                self.best_epoch or 0,
            )

    def on_train_end(self, logs=None):
        if self.patience is not None and self.best_epoch is not None and self.best_epoch != self.last_epoch:
            self.restore()

    def restore(self) -> bool:
        """Give the model the best epoch's weights; ``False`` when there are none yet."""
        if self.weights is not None:
            self.model.set_weights(self.weights)
        elif self.weights_file is not None:
            from .artifacts import check_h5_weights_only

            check_h5_weights_only(self.weights_file)
            self.model.load_weights(str(self.weights_file))
        else:
            return False
        logger.info("Restored the weights of epoch %d, the best by %s (%.4g).", *self._best_info())
        return True

    def _best_info(self) -> tuple:
        return self.best_epoch, self.monitor, self.best

    def state(self) -> dict:
        """JSON-safe early-stopping state (written into a checkpoint's progress.json)."""
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
        }

    def resume_from(self, state: dict, weights_file: Path | None) -> None:
        """Continue from a checkpoint's :meth:`state` (same monitor and mode); the best epoch's
        weights are read from ``weights_file`` only if they must be restored."""
        if state.get("monitor") != self.monitor or state.get("mode") != self.mode:
            return
        if state.get("best") is None or state.get("best_epoch") is None:
            return
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
        self.wait = int(state.get("wait") or 0)
        self.stopped_epoch = state.get("stopped_epoch")
        self.weights, self.weights_file = None, weights_file


class CSVHistory(Callback):
    """Write one row per epoch to ``folder/history.csv``: the epoch (1-based), the learning rate
    at the epoch's end, the epoch's seconds and every metric of the epoch logs (``loss``,
    ``accuracy``, ``val_loss``...).

    Each row is flushed when its epoch ends, so a crashed run keeps the rows of its finished
    epochs. ``append=False`` starts the file afresh; ``append=True`` (a resumed run) adds rows
    under the existing header.
    """

    def __init__(self, folder: str | Path, *, append: bool = False):
        super().__init__()
        self.path = Path(folder) / HISTORY_CSV
        self.append = append
        self._columns: list[str] | None = None
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.append and self.path.is_file():
            with open(self.path, encoding="utf-8", newline="") as handle:
                self._columns = next(csv.reader(handle), None)
        elif self.path.exists():
            self.path.unlink()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        optimizer = inner_optimizer(self.model.optimizer)
        row = {
            "epoch": epoch + 1,
            "lr": float(optimizer.learning_rate.numpy()),
            "seconds": round(time.perf_counter() - self._start, 3),
            **{k: float(v) for k, v in logs.items() if k not in ("learning_rate", "lr")},
        }
        new = self._columns is None
        if new:
            metrics = sorted(k for k in row if k not in ("epoch", "lr", "seconds"))
            self._columns = ["epoch", "lr", "seconds", *metrics]
        with open(self.path, "a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self._columns, extrasaction="ignore", restval="")
            if new:
                writer.writeheader()
            writer.writerow(row)


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package is installed (checked without importing it)."""
    return importlib.util.find_spec("tensorboard") is not None


def log_callbacks(log_dir: str | Path, model: object, *, append: bool = False) -> list:
    """The callbacks that log a training run into ``log_dir``: a :class:`CSVHistory` always, and
    the model's Keras ``TensorBoard`` callback (epoch scalars in ``log_dir/train`` and
    ``log_dir/validation``) when ``tensorboard`` is installed. TensorBoard logging never stops
    training: if it is missing or cannot be set up, an INFO line says so and only the CSV is
    written."""
    from ._keras import keras_of

    out: list = [CSVHistory(log_dir, append=append)]
    if not tensorboard_available():
        logger.info(
            "tensorboard is not installed: %s gets %s only (pip install tensorboard for TensorBoard logs).",
            log_dir,
            HISTORY_CSV,
        )
        return out
    try:
        board = keras_of(model).callbacks.TensorBoard(
            log_dir=str(log_dir), histogram_freq=0, write_graph=False, update_freq="epoch", profile_batch=0
        )
    except Exception as exc:  # noqa: BLE001 - optional logging must never stop training
        reason = f"{type(exc).__name__}: {exc}"
        logger.info("TensorBoard logging is off (%s); %s is written.", reason, HISTORY_CSV)
        return out
    return [*out, board]
