"""Training callbacks: a per-batch schedule driver (learning rate + Adam momentum), the
learning-rate finder, per-batch history, plateau reduction and per-epoch checkpoints.

Each callback is small; the maths lives in :mod:`easytx.schedules` and :mod:`easytx.lr_rules`.
They are written once for both Keras versions: each is a plain object with Keras' callback hooks,
and :func:`for_keras` wraps it in a callback of the model's own Keras (tf-keras or Keras 3) when
training starts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path

from . import (
    _env,  # noqa: F401
    lr_rules,
    schedules,
)
from ._keras import save_weights_h5, weights_file_name

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
]


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
    epoch, the schedule step, the learning-rate scale and the data-order epoch.
    """

    def __init__(
        self,
        folder: str | Path,
        schedule: ScheduleCallback | None = None,
        extra: dict | None = None,
        data: object = None,
    ):
        super().__init__()
        self.folder = Path(folder)
        self.schedule = schedule
        self.extra = extra or {}
        self.data = data

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.distribute_strategy.extended.should_checkpoint:
            return  # multi-worker training: only the chief writes
        from . import checkpoints

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / weights_file_name(self.model, f"weights-{epoch + 1:02d}")
        tmp = path.with_name(".tmp-" + path.name)  # Keras 3 wants the name to end in .weights.h5
        save_weights_h5(self.model, tmp)
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
        checkpoints.write_progress(self.folder, state)
        for stale in self.folder.glob("optimizer-*.safetensors"):
            if stale != optimizer_path:
                stale.unlink(missing_ok=True)
        logger.info("Saved checkpoint %s", path)


class BestWeights(Callback):
    """Keep an in-memory copy of the weights of the epoch with the lowest ``monitor`` so far."""

    def __init__(self, monitor: str = "val_loss"):
        super().__init__()
        self.monitor = monitor
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.weights: list | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        if self.best is None or float(value) < self.best:
            self.best, self.best_epoch = float(value), epoch + 1
            self.weights = self.model.get_weights()
