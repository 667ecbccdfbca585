"""Scale-out with TensorFlow's own engine (:mod:`tf.distribute`): strategies, precision, workers.

This module turns what the user asks for (a :class:`tf.distribute.Strategy`, or a short name such
as ``"mirrored"``) into a strategy, builds or re-builds models inside its scope, applies a
mixed-precision policy while a model is built, and tells whether this process is the one that
writes files (the chief). :func:`easytx.get_learner` and :meth:`Transformer.get_classifier` call
it; scripts rarely need it directly, except for :func:`get_strategy` at the very top of a
multi-worker script (see ``docs/distributed.md``).

Short names
-----------
``"auto"``
    ``"multi_worker"`` when ``TF_CONFIG`` describes a cluster of more than one task, else
    ``"mirrored"`` when this machine has more than one GPU, else ``"default"``.
``"mirrored"``
    :class:`tf.distribute.MirroredStrategy` over all local GPUs (the CPU when there is none).
``"multi_worker"``
    :class:`tf.distribute.MultiWorkerMirroredStrategy`, configured from ``TF_CONFIG``.
``"tpu"``
    :class:`tf.distribute.TPUStrategy` on the TPU named by ``TPU_NAME`` (or the local one).
``"default"``
    TensorFlow's default strategy: one device, no distribution.

Strategies are created once per process and reused: TensorFlow allows only one
``MultiWorkerMirroredStrategy`` per process, and it must exist before TensorFlow runs its first
operation.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from . import _env  # noqa: F401
from .bindings import copy_binding
from .errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "STRATEGY_NAMES",
    "PRECISION_POLICIES",
    "get_strategy",
    "resolve_strategy",
    "describe",
    "num_replicas",
    "is_chief",
    "is_multi_worker",
    "strategy_of",
    "build_scope",
    "precision_scope",
    "prepare_model",
    "loss_for",
    "tf_config",
    "configure_workers",
]

STRATEGY_NAMES = ("auto", "default", "mirrored", "multi_worker", "tpu")
PRECISION_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")

#: resolved kind -> strategy instance (one per process; see the module docstring)
_CACHE: dict[str, Any] = {}


# ---------------------------------------------------------------------------------------- workers
def _cluster_size(config: dict) -> int:
    cluster = config.get("cluster") or {}
    return sum(len(cluster.get(kind) or []) for kind in ("chief", "worker"))


def _read_tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"The TF_CONFIG environment variable is not valid JSON ({exc}). Expected e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
            '"index": 0}}; easytx.distribute.tf_config() builds one.'
        ) from None
    if not isinstance(config, dict):
        raise ConfigError(f"TF_CONFIG must hold a JSON object. Received: {raw[:200]!r}")
    return config


def tf_config(workers: str | list[str], index: int, *, task_type: str = "worker") -> dict:
    """The ``TF_CONFIG`` dictionary for one worker of a multi-worker job.

    Parameters
    ----------
    workers : str or list of str
        Every worker's ``host:port``, in the same order on every machine: a list, or one string
        separated by commas (``"10.0.0.1:12345,10.0.0.2:12345"``).
    index : int
        This process's position in ``workers``; worker 0 is the chief (it writes checkpoints and
        the predictor).
    task_type : str
        ``"worker"`` (the only type MultiWorkerMirroredStrategy needs).

    Returns
    -------
    dict
        ``{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": index}}``.

    Examples
    --------
    >>> tf_config("10.0.0.1:12345,10.0.0.2:12345", 1)["task"]
    {'type': 'worker', 'index': 1}
    """
    if isinstance(workers, str):
        hosts = [w.strip() for w in workers.split(",") if w.strip()]
    else:
        hosts = [str(w).strip() for w in workers]
    bad = [h for h in hosts if h.count(":") != 1 or not h.rsplit(":", 1)[1].isdigit()]
    if not hosts or bad:
        raise ConfigError(
            "`workers` must list every worker as host:port, e.g. '10.0.0.1:12345,10.0.0.2:12345'. "
            f"Received: {workers!r}" + (f" (not host:port: {bad})" if bad else "")
        )
    if len(set(hosts)) != len(hosts):
        raise ConfigError(f"`workers` lists the same host:port twice: {hosts}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(hosts):
        raise ConfigError(
            f"`index` must be this worker's position in `workers` (0 to {len(hosts) - 1}). "
            f"Received: index={index!r}"
        )
    return {"cluster": {task_type: hosts}, "task": {"type": task_type, "index": index}}


def configure_workers(workers: str | list[str], index: int) -> dict:
    """Set ``TF_CONFIG`` for this process from a worker list (the launcher helper).

    Call it before TensorFlow runs anything (first thing in the script, or in a command-line
    launcher before the training code starts), then use ``strategy="multi_worker"`` or
    ``"auto"``. Returns the dictionary written.
    """
    config = tf_config(workers, index)
    os.environ["TF_CONFIG"] = json.dumps(config)
    return config


# ---------------------------------------------------------------------------------------- strategies
def _auto_kind() -> str:
    if _cluster_size(_read_tf_config()) > 1:
        return "multi_worker"
    import tensorflow as tf

    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def _create(kind: str) -> Any:
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "multi_worker":
        config = _read_tf_config()
        if _cluster_size(config) <= 1:
            logger.warning(
                "strategy='multi_worker' without a TF_CONFIG cluster of several workers: this "
                "process trains alone. Set TF_CONFIG (see easytx.distribute.tf_config)."
            )
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as exc:
            if "program startup" not in str(exc):
                raise
            raise ConfigError(
                "MultiWorkerMirroredStrategy must be created before TensorFlow runs its first "
                "operation, but this process has already built a model or run TensorFlow code. "
                "Put `strategy = easytx.distribute.get_strategy('multi_worker')` (or 'auto') at "
                "the top of the script and pass strategy=strategy to get_learner()."
            ) from None
    if kind == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise AssertionError(kind)  # pragma: no cover - kinds are checked by the caller


def resolve_strategy(strategy: Any) -> Any:
    """Return a :class:`tf.distribute.Strategy` for ``strategy``, or ``None`` for ``None``.

    ``strategy`` is a strategy instance (returned as is) or one of :data:`STRATEGY_NAMES`.
    Strategies made from names are cached per process.
    """
    if strategy is None:
        return None
    if isinstance(strategy, str):
        name = strategy.strip().lower().replace("-", "_")
        name = {
            "none": "default",
            "multiworker": "multi_worker",
            "multi_worker_mirrored": "multi_worker",
        }.get(name, name)
        if name not in STRATEGY_NAMES:
            from .errors import closest_match_hint

            raise ConfigError(
                f"Unknown strategy {strategy!r}; expected a tf.distribute.Strategy or one of "
                f"{list(STRATEGY_NAMES)}.{closest_match_hint(name, STRATEGY_NAMES)}"
            )
        kind = _auto_kind() if name == "auto" else name
        if kind not in _CACHE:
            _CACHE[kind] = _create(kind)
            logger.info("Distribution strategy %r: %s", strategy, describe(_CACHE[kind]))
        return _CACHE[kind]
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    raise ConfigError(
        "`strategy` must be a tf.distribute.Strategy or one of "
        f"{list(STRATEGY_NAMES)}. Received an object of type {type(strategy).__name__}."
    )


def get_strategy(strategy: Any = "auto") -> Any:
    """The strategy to train with (see the module docstring for the short names).

    For multi-worker training call it first thing in the script, before anything builds a model:
    TensorFlow sets up cross-worker communication only before its first operation.

    Examples
    --------
    >>> strategy = get_strategy("default")
    >>> num_replicas(strategy)
    1
    """
    return resolve_strategy(strategy)


def describe(strategy: Any) -> str:
    """One line: the strategy's class, replica count and, for multi-worker, this task."""
    name = type(strategy).__name__.lstrip("_")
    text = f"{name} with {num_replicas(strategy)} replica(s)"
    resolver = getattr(strategy, "cluster_resolver", None)
    if is_multi_worker(strategy) and resolver is not None:
        text += f", this process is {resolver.task_type} {resolver.task_id}"
    return text


def num_replicas(strategy: Any) -> int:
    """Replicas kept in sync (devices x workers); 1 for ``None``."""
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def is_multi_worker(strategy: Any) -> bool:
    """Whether ``strategy`` spans several worker processes."""
    extended = getattr(strategy, "extended", None)
    check = getattr(extended, "_in_multi_worker_mode", None)
    return bool(check()) if callable(check) else False


def is_chief(strategy: Any = None) -> bool:
    """Whether this process writes files (checkpoints, the predictor) for ``strategy``.

    ``True`` without a strategy and for single-machine strategies; under multi-worker training,
    only the chief (worker 0, or the task of type ``"chief"``) writes.
    """
    if strategy is None:
        return True
    return bool(getattr(strategy.extended, "should_checkpoint", True))


def strategy_of(model: Any) -> Any:
    """The strategy ``model``'s variables were created under (TensorFlow's default if none)."""
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None:
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
    return strategy


def _created_in(model: Any, strategy: Any) -> bool:
    from ._keras import tf_variable

    weights = model.weights
    return bool(weights) and all(
        strategy.extended.variable_created_in_scope(tf_variable(w)) for w in weights[:1]
    )


# ---------------------------------------------------------------------------------------- precision
def _check_policy(mixed_precision: Any) -> str | None:
    if mixed_precision is None:
        return None
    if mixed_precision is True:
        return "mixed_float16"
    if mixed_precision is False:
        return "float32"
    if isinstance(mixed_precision, str) and mixed_precision in PRECISION_POLICIES:
        return mixed_precision
    raise ConfigError(
        f"`mixed_precision` must be one of {list(PRECISION_POLICIES)} or None. Received: "
        f"mixed_precision={mixed_precision!r}. Use 'mixed_float16' on NVIDIA GPUs (compute "
        "capability 7.0+), 'mixed_bfloat16' on TPUs, Ampere+ GPUs and recent CPUs."
    )


@contextlib.contextmanager
def precision_scope(policy: str | None) -> Iterator[None]:
    """Build layers under Keras dtype ``policy`` (``None``: leave the global policy alone).

    The global policy is restored on exit, so only the models built inside use it.
    """
    policy = _check_policy(policy)
    if policy is None:
        yield
        return
    with _global_policy(policy):
        yield


@contextlib.contextmanager
def _global_policy(name: str) -> Iterator[None]:
    """Set the global dtype policy of every installed Keras (Keras 3, and tf-keras if present)."""
    from ._keras import keras3, legacy_keras

    modules = [k for k in (keras3(), legacy_keras()) if k is not None]
    previous = [k.mixed_precision.global_policy() for k in modules]
    for k in modules:
        k.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        for k, old in zip(modules, previous):
            k.mixed_precision.set_global_policy(old)


@contextlib.contextmanager
def build_scope(strategy: Any = None, mixed_precision: Any = None) -> Iterator[Any]:
    """Enter ``strategy``'s scope and the ``mixed_precision`` policy; yields the strategy or None."""
    resolved = resolve_strategy(strategy)
    with contextlib.ExitStack() as stack:
        if resolved is not None:
            stack.enter_context(resolved.scope())
        stack.enter_context(precision_scope(mixed_precision))
        yield resolved


def loss_for(model: Any, loss: Any) -> Any:
    """``loss``, computed on float32 logits when ``model`` computes in float16/bfloat16.

    Keras' mixed-precision guide keeps the model's output in float32 for numeric stability;
    the Hugging Face heads compute in the policy's dtype, so the logits are cast before the loss.
    """
    policy = getattr(model, "dtype_policy", None)
    if getattr(policy, "compute_dtype", "float32") in ("float32", None):
        return loss
    import tensorflow as tf

    from ._keras import keras_of

    class Float32Logits(keras_of(model).losses.Loss):
        def __init__(self, inner: Any):
            super().__init__(reduction=inner.reduction, name=inner.name)
            self.inner = inner

        def call(self, y_true: Any, y_pred: Any) -> Any:
            return self.inner.call(y_true, tf.cast(y_pred, tf.float32))

    return Float32Logits(loss)


# ---------------------------------------------------------------------------------------- models
def _multi_worker_setup(model: Any) -> None:
    """Under multi-worker training: the chief's weights everywhere; batch logs not summed."""
    strategy = strategy_of(model)
    if not is_multi_worker(strategy):
        return
    _broadcast_from_first_replica(model, strategy)
    # tf-keras sums per-batch logs over the workers by default ("auto" -> "sum"), although the
    # metrics are already synchronised: per-batch losses (lr_find, batch history) came out
    # multiplied by the number of workers. "first" reports the synchronised value.
    model.distribute_reduction_method = "first"


def _broadcast_from_first_replica(model: Any, strategy: Any) -> None:
    """Give every worker the chief's weights (one collective over all of them).

    Mirrored variables are kept equal by applying the same updates everywhere, so they must
    start equal; weights assigned after creation (a checkpoint loaded, a model copied into the
    scope, a head initialised without a seed) may differ between workers. Replica 0 (on the
    chief) contributes its values, the others zeros, and the sum is assigned everywhere.
    """
    import tensorflow as tf

    values = [tf.convert_to_tensor(w) for w in model.get_weights()]

    def keep_first(*tensors: Any) -> Any:
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        masked = [tf.where(first, t, tf.zeros_like(t)) for t in tensors]
        return context.all_reduce(tf.distribute.ReduceOp.SUM, masked)

    result = strategy.run(tf.function(keep_first), args=tuple(values))
    local = [strategy.experimental_local_results(r)[0] for r in result]
    model.set_weights([t.numpy() for t in local])


def prepare_model(model: Any, *, strategy: Any = None, mixed_precision: Any = None) -> Any:
    """Return ``model`` ready to train under ``strategy`` and ``mixed_precision``.

    When the model's variables were created outside ``strategy``'s scope, or under another dtype
    policy, an identical model is built inside the scope from the model's config and the
    weights are copied into it (the original is left unchanged). Otherwise ``model`` is
    returned as is. ``strategy=None`` keeps the model's own strategy. Under multi-worker
    training every worker then takes the chief's weights (one broadcast), so all workers start
    from the same model even if they built it differently (e.g. a head initialised without a
    seed). Every worker must therefore call this (``get_learner``) the same number of times.

    Building the model inside the scope in the first place avoids the copy:
    ``t.get_classifier(strategy=...)``.
    """
    policy = _check_policy(mixed_precision)
    target = resolve_strategy(strategy)
    current_policy = getattr(getattr(model, "dtype_policy", None), "name", "float32")
    move = target is not None and not _created_in(model, target)
    recast = policy is not None and policy != current_policy
    if not (move or recast):
        _multi_worker_setup(model)
        return model
    target = target if target is not None else strategy_of(model)
    with target.scope(), _global_policy(policy or current_policy):
        from . import backend

        clone = backend.rebuild(model)
    old, new = model.weights, clone.weights
    if [tuple(w.shape) for w in old] != [tuple(w.shape) for w in new]:
        raise ConfigError(
            f"Could not re-create {type(model).__name__} inside the strategy scope: its weights do "
            "not match a model built from its config. Build the model inside the scope instead: "
            "t.get_classifier(strategy=...)."
        )
    clone.set_weights(model.get_weights())
    _multi_worker_setup(clone)
    for before, after in zip(model._flatten_layers(), clone._flatten_layers()):
        after.trainable = before.trainable
    copy_binding(model, clone)
    logger.info(
        "Re-created the model inside %s%s (weights copied); build it there directly with "
        "get_classifier(strategy=..., mixed_precision=...) to skip the copy.",
        describe(target),
        f" with dtype policy {policy}" if recast else "",
    )
    return clone
