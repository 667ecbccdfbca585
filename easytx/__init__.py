"""easytx: fine-tune Hugging Face transformer models on TensorFlow in three lines.

``import easytx`` is cheap: TensorFlow and transformers load on first use. The names follow
ktrain's, so a ktrain text-classification script runs after changing its imports::

    import easytx
    from easytx import text

    t = text.Transformer("distilbert-base-uncased", maxlen="auto")
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_val, y_val)
    learner = easytx.get_learner(t.get_classifier(), train_data=trn, val_data=val, batch_size=32)
    learner.fit_onecycle(5e-5, 2)
    predictor = easytx.get_predictor(learner.model, preproc=t)
    predictor.save("my_predictor")
"""

from __future__ import annotations

from typing import Any

from . import _env  # noqa: F401  (environment set-up that must precede TensorFlow; see _env)
from .data import TextData, train_test_split
from .errors import (
    ArtifactError,
    ConfigError,
    DataError,
    DataTypeError,
    EasytxError,
    MissingDependencyError,
    ModelNotFoundError,
    NotFittedError,
    QueueFullError,
)

__version__ = "0.1.0"

_LAZY = {
    "get_learner": "learner",
    "Learner": "learner",
    "LRSuggestions": "learner",
    "get_predictor": "predictor",
    "load_predictor": "predictor",
    "Predictor": "predictor",
    "finetune": "quick",
    "convert_ktrain_predictor": "ktrain_compat",
    "tune": "tuning",
    "text": None,
}

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "DataTypeError",
    "EasytxError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "NotFittedError",
    "QueueFullError",
    "TextData",
    "train_test_split",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'easytx' has no attribute {name!r}")
    import importlib

    if _LAZY[name] is None:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
