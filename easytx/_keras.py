"""Which Keras a model belongs to, and the few calls that differ between the two.

The ``keras3`` backend's models are Keras 3 models (the ``keras`` package); the ``transformers``
backend's are tf-keras (Keras 2) models. Optimizers, losses, metrics and callbacks must come from
the model's own Keras, so the training code asks :func:`keras_of` instead of importing one.
Nothing here imports TensorFlow or Keras before it is called.
"""

from __future__ import annotations

import sys
from typing import Any

from . import _env  # noqa: F401

__all__ = [
    "keras3",
    "legacy_keras",
    "is_keras3_model",
    "keras_of",
    "logits_of",
    "weights_file_name",
    "save_weights_h5",
    "save_weights_keras2_h5",
    "tf_variable",
    "optimizer_variables",
    "set_random_seed",
    "train_tracing_count",
]


def keras3() -> Any:
    """The ``keras`` package if it is Keras 3, else ``None``."""
    try:
        import keras
    except ImportError:
        return None
    version = getattr(keras, "__version__", "0")
    return keras if int(version.split(".")[0]) >= 3 else None


def legacy_keras() -> Any:
    """The ``tf_keras`` package (Keras 2), or ``None`` when the legacy extra is not installed."""
    try:
        import tf_keras
    except ImportError:
        return None
    return tf_keras


def is_keras3_model(model: Any) -> bool:
    """Whether ``model`` (or layer) is a Keras 3 object rather than a tf-keras one."""
    if "keras" not in sys.modules:  # no Keras 3 object can exist yet: do not pay for the import
        return False
    k3 = keras3()
    return k3 is not None and isinstance(model, (k3.Model, k3.layers.Layer))


def keras_of(model: Any) -> Any:
    """The Keras module ``model`` was built with: ``keras`` (3) or ``tf_keras``."""
    if is_keras3_model(model):
        return keras3()
    legacy = legacy_keras()
    if legacy is None:  # pragma: no cover - a legacy model cannot exist without tf_keras
        raise ImportError("tf_keras is not installed")
    return legacy


def logits_of(output: Any) -> Any:
    """The logits of a model's output: a Hugging Face output object, a dict or a tensor."""
    logits = getattr(output, "logits", None)
    if logits is not None:
        return logits
    if isinstance(output, dict):
        keys = list(output.keys())
        return output[keys[1]] if keys and keys[0] == "loss" else output[keys[0]]
    return output


def weights_file_name(model: Any, stem: str) -> str:
    """The file name for ``model``'s weights in h5 (Keras 3 insists on ``.weights.h5``)."""
    return f"{stem}.weights.h5" if is_keras3_model(model) else f"{stem}.h5"


def save_weights_h5(model: Any, path: Any) -> None:
    """Write ``model``'s weights (arrays only) as h5 at ``path``."""
    if is_keras3_model(model):
        model.save_weights(str(path))
    else:
        model.save_weights(str(path), save_format="h5")


def save_weights_keras2_h5(model: Any, path: Any) -> None:
    """Write ``model``'s weights (arrays only) as a Keras 2 h5 weights file at ``path``, under any
    name: the layout ``model.load_weights("....h5" or "....hdf5")`` reads in both Kerases (Keras 3
    reads its own layout only from ``.weights.h5`` names)."""
    if not is_keras3_model(model):
        model.save_weights(str(path), save_format="h5")
        return
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(str(path), "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)


def tf_variable(variable: Any) -> Any:
    """The ``tf.Variable`` behind a Keras variable (a Keras 3 variable wraps one; a tf-keras one is one).

    Under a ``tf.distribute`` strategy this is the distributed (e.g. mirrored) variable, which
    ``strategy.extended.variable_created_in_scope`` and ``isinstance(v, tf.distribute.DistributedValues)``
    understand.
    """
    k3 = keras3()
    if k3 is not None and isinstance(variable, k3.Variable):
        return variable.value
    return variable


def optimizer_variables(optimizer: Any) -> list:
    """The optimizer's variables (a method in tf-keras, a property in Keras 3)."""
    variables = optimizer.variables
    return list(variables() if callable(variables) else variables)


def train_tracing_count(model: Any) -> int:
    """How many times TensorFlow traced ``model``'s training function (made by ``model.fit``).

    tf-keras' ``train_function`` is itself a ``tf.function``; Keras 3's is a Python function over
    ``tf.function`` s (one step, and the loop over an iterator): the count of the most-traced one.

    Raises
    ------
    ConfigError
        The model has not trained yet, or runs eagerly (nothing is traced).
    """
    from .errors import ConfigError

    function = getattr(model, "train_function", None)
    if function is None:
        raise ConfigError("The model has no training function yet: train it (model.fit) first.")
    if hasattr(function, "experimental_get_tracing_count"):
        return int(function.experimental_get_tracing_count())
    cells = [cell.cell_contents for cell in getattr(function, "__closure__", None) or ()]
    counts = [
        int(c.experimental_get_tracing_count()) for c in cells if hasattr(c, "experimental_get_tracing_count")
    ]
    if not counts:
        raise ConfigError(
            f"Cannot find the traced training function of {type(model).__name__} (eager training?)."
        )
    return max(counts)


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow and every installed Keras (each keeps its own generators)."""
    for module in (keras3(), legacy_keras()):
        if module is not None:
            module.utils.set_random_seed(seed)
