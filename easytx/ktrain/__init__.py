"""ktrain's API with ktrain's behaviour, on easytx: ``import easytx.ktrain as ktrain``.

A ktrain script for transformer text models runs after changing its imports::

    import easytx.ktrain as ktrain            # was: import ktrain
    from easytx.ktrain import text            # was: from ktrain import text

Names, argument order and return values follow ktrain 0.41 where easytx's own API differs on
purpose (regression inferred from numeric labels, multi-label answers as ``(class, probability)``
pairs, ``hist.history['lr']``, ``top_losses`` tuples, printing). Training, prediction and saving
are easytx's (no pickles). Bag-of-words models, character embeddings, plain Keras models,
question answering, summarization and topic models are out of scope and say so. See
``docs/migrating-from-ktrain.md``.

Examples
--------
>>> import easytx.ktrain as ktrain
>>> from easytx.ktrain import text  # doctest: +SKIP
>>> trn, val, preproc = text.texts_from_array(x_train, y_train, x_test, y_test,
...     preprocess_mode="distilbert", maxlen=128)  # doctest: +SKIP
>>> model = text.text_classifier("distilbert", trn, preproc=preproc)  # doctest: +SKIP
>>> learner = ktrain.get_learner(model, train_data=trn, val_data=val, batch_size=6)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from .. import (
    __version__,
    _env,  # noqa: F401  (before TensorFlow)
)

__all__ = ["get_learner", "get_predictor", "load_predictor", "release_gpu_memory", "__version__"]

_LAZY = {
    "get_learner": "core",
    "get_predictor": "core",
    "load_predictor": "core",
    "release_gpu_memory": "core",
    "Learner": "core",
    "Predictor": "core",
}
_SUBMODULES = ("text", "utils", "imports", "core", "dataset", "version")


def __getattr__(name: str) -> Any:  # TensorFlow loads on first use
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "U":
        return importlib.import_module(".utils", __name__)
    if name == "I":
        return importlib.import_module(".imports", __name__)
    if name in ("vision", "tabular", "graph"):
        raise AttributeError(
            f"easytx.ktrain has no {name!r}: easytx fine-tunes transformer text models only."
        )
    raise AttributeError(f"module 'easytx.ktrain' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_LAZY, *_SUBMODULES})
