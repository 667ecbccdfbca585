"""What easytx knows about a model, kept beside the model instead of on it.

A model built by :meth:`Transformer.get_classifier` is *bound* to the task object that compiles it
(so thresholds tuned by the Learner reach the Predictor), to the preprocessor that built it (so
``get_learner`` and ``tune`` can tokenize ``TextData`` for it) and, after ``finetune``, to the
validation metrics a saved predictor records. Per-model caches (traced forward functions,
integrated-gradients functions, gradient accumulators) live here too.

The registry holds the model weakly: an entry goes away with its model, and nothing is set on the
Keras or Hugging Face object itself (their attribute tracking, ``__dict__`` and serialization stay
untouched). No TensorFlow import.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Binding",
    "bind",
    "binding_of",
    "cache_of",
    "copy_binding",
    "metrics_of",
    "preproc_of",
    "task_of",
    "training_of",
]


@dataclass
class Binding:
    """The easytx state attached to one model.

    Attributes
    ----------
    task : Task or None
        The task object the model was built for (shared with the preprocessor and the Learner).
    preproc : Transformer or None
        The preprocessor that built the model, or that a predictor was loaded with.
    metrics : dict or None
        Validation metrics measured after training (written into a saved predictor).
    training : list of dict or None
        One record per Learner training call on this model, oldest first (see
        :meth:`easytx.Learner.fit_onecycle`; written into a saved predictor and its model card).
    cache : dict
        Per-model caches of traced functions and training-step state; never copied. What is
        cached here must not hold the model strongly (a traced function reaches it through a
        ``weakref``), or the model would never be freed.
    """

    task: Any = None
    preproc: Any = None
    metrics: dict | None = None
    training: list | None = None
    cache: dict = field(default_factory=dict)


_BINDINGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_UNSET: Any = object()


def binding_of(model: Any) -> Binding | None:
    """The :class:`Binding` of ``model``, or ``None`` when easytx never bound it."""
    try:
        return _BINDINGS.get(model)
    except TypeError:  # not weak-referenceable (not a model): nothing is bound to it
        return None


def bind(
    model: Any, *, task: Any = _UNSET, preproc: Any = _UNSET, metrics: Any = _UNSET, training: Any = _UNSET
) -> Binding:
    """Bind ``model`` to a task, a preprocessor, metrics and/or training records; fields not given
    keep their value.

    Returns the model's :class:`Binding` (created on first use).
    """
    with _LOCK:
        binding = _BINDINGS.get(model)
        if binding is None:
            binding = _BINDINGS[model] = Binding()
    if task is not _UNSET:
        binding.task = task
    if preproc is not _UNSET:
        binding.preproc = preproc
    if metrics is not _UNSET:
        binding.metrics = None if metrics is None else dict(metrics)
    if training is not _UNSET:
        binding.training = None if training is None else list(training)
    return binding


def task_of(model: Any) -> Any:
    """The task object bound to ``model``, or ``None``."""
    binding = binding_of(model)
    return None if binding is None else binding.task


def preproc_of(model: Any) -> Any:
    """The preprocessor bound to ``model``, or ``None``."""
    binding = binding_of(model)
    return None if binding is None else binding.preproc


def metrics_of(model: Any) -> dict | None:
    """The validation metrics bound to ``model``, or ``None``."""
    binding = binding_of(model)
    return None if binding is None else binding.metrics


def training_of(model: Any) -> list | None:
    """The training records bound to ``model`` (oldest first), or ``None``."""
    binding = binding_of(model)
    return None if binding is None else binding.training


def cache_of(model: Any) -> dict:
    """The per-model cache dictionary of ``model`` (created on first use)."""
    return bind(model).cache


def copy_binding(source: Any, target: Any) -> None:
    """Give ``target`` the task, preprocessor, metrics and training records of ``source`` (a clone
    of the model, e.g. re-created inside a distribution strategy); its caches start empty."""
    binding = binding_of(source)
    if binding is not None:
        bind(
            target,
            task=binding.task,
            preproc=binding.preproc,
            metrics=binding.metrics,
            training=binding.training,
        )
