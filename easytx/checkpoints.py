"""Training checkpoints that survive a crash, and resuming from them. No pickle anywhere.

A checkpoint folder holds, after every epoch::

    weights-EE.h5             the model weights after epoch EE (Keras HDF5 weights: arrays only)
    optimizer-EE.safetensors  the optimizer's variables (step count, Adam moments) for the latest epoch
    progress.json             epoch, schedule step, learning-rate scale, data-order epoch, the
                              training call's options, and the file names above

``progress.json`` is replaced last, atomically, so it always names files that exist: a crash at any
moment leaves the previous epoch's checkpoint intact. :meth:`easytx.Learner.fit_onecycle` (and
``fit``/``autofit``) with ``resume=True`` restores the weights, the optimizer state, the epoch
counter, the schedule position and the data order, then trains the remaining epochs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ._keras import optimizer_variables
from .errors import ArtifactError, ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "PROGRESS",
    "save_optimizer_state",
    "restore_optimizer_state",
    "read_progress",
    "write_progress",
    "check_resumable",
]

PROGRESS = "progress.json"
_FORMAT = "easytx-optimizer-state"


def _replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)


def save_optimizer_state(optimizer: Any, path: Path) -> None:
    """Write the optimizer's variables to ``path`` (safetensors; atomic replace)."""
    from safetensors.numpy import save_file

    variables = optimizer_variables(optimizer)
    # np.array keeps 0-d scalars (the step count) 0-d; ascontiguousarray would make them 1-d
    tensors = {f"{i:05d}": np.array(v.numpy(), order="C") for i, v in enumerate(variables)}
    metadata = {
        "format": _FORMAT,
        "names": json.dumps([v.name for v in variables]),
        "optimizer": type(optimizer).__name__,
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    _replace(tmp, path)


def restore_optimizer_state(optimizer: Any, trainable_variables: list, path: Path) -> None:
    """Build ``optimizer`` for ``trainable_variables`` and load the variables saved at ``path``.

    Raises
    ------
    ConfigError
        The saved state does not fit (another model, or other layers frozen).
    ArtifactError
        The file is missing or damaged.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error class
        raise ArtifactError(f"Cannot read the optimizer state {path}: {exc}.") from None
    if metadata.get("format") != _FORMAT:
        raise ArtifactError(f"{path} is not an easytx optimizer state file.")
    optimizer.build(trainable_variables)
    variables = optimizer_variables(optimizer)
    saved = [tensors[key] for key in sorted(tensors)]
    shapes_now = [tuple(v.shape) for v in variables]
    shapes_saved = [tuple(a.shape) for a in saved]
    if shapes_now != shapes_saved:
        raise ConfigError(
            f"The optimizer state in {path} has {len(saved)} variables that do not fit this model's "
            f"optimizer ({len(variables)} variables): the checkpoint comes from another model or "
            "from training with other layers frozen. Resume with the same model and freeze()"
            " settings, or use another checkpoint_folder to start afresh."
        )
    for variable, value in zip(variables, saved):
        dtype = getattr(variable.dtype, "as_numpy_dtype", variable.dtype)  # tf.DType or a name
        variable.assign(value.astype(np.dtype(dtype), copy=False))


def read_progress(folder: str | os.PathLike) -> dict | None:
    """The last completed epoch's record in ``folder``, or ``None`` when there is none."""
    path = Path(folder) / PROGRESS
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc}); it cannot be resumed from.") from None
    for key in ("epoch", "weights", "schedule_step"):
        if key not in state:
            raise ArtifactError(f"{path} lacks {key!r}; it cannot be resumed from.")
    return state


def write_progress(folder: Path, state: dict) -> None:
    """Replace ``folder/progress.json`` atomically (the checkpoint's commit point)."""
    path = folder / PROGRESS
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    _replace(tmp, path)


def check_resumable(state: dict, *, run: dict, steps_per_epoch: int, epochs: int, folder: Path) -> None:
    """Refuse to resume a checkpoint written by a training call with other options."""
    saved_run = state.get("run") or {}
    differ = sorted(k for k in set(saved_run) | set(run) if saved_run.get(k) != run.get(k))
    if differ:
        was = ", ".join(f"{k}={saved_run.get(k)!r}" for k in differ)
        now = ", ".join(f"{k}={run.get(k)!r}" for k in differ)
        raise ConfigError(
            f"The checkpoint in {folder} was written by a training call with {was}; this call has "
            f"{now}. Resume with the same options, or pass another checkpoint_folder (or "
            "resume=False) to start afresh."
        )
    saved_steps = state.get("steps_per_epoch")
    if saved_steps is not None and saved_steps != steps_per_epoch:
        raise ConfigError(
            f"The checkpoint in {folder} was written with {saved_steps} steps per epoch; this learner "
            f"has {steps_per_epoch} (another batch_size or other training data). Resume with the same "
            "data and batch_size, or start afresh."
        )
    if state["epoch"] > epochs:
        raise ConfigError(f"The checkpoint in {folder} is at epoch {state['epoch']}, beyond epochs={epochs}.")
