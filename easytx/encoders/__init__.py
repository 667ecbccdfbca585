"""easytx's own Keras 3 encoders for the BERT family (BERT, MiniLM, RoBERTa, XLM-R, CamemBERT,
DistilBERT, ELECTRA): no transformers model classes and no tf-keras needed.

:mod:`.config` is importable without TensorFlow; the model and weight modules load Keras 3 lazily
through this package's attributes.
"""

from __future__ import annotations

from typing import Any

from .config import SUPPORTED_MODEL_TYPES, EncoderConfig, is_supported, read_config

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "EncoderConfig",
    "is_supported",
    "read_config",
    "EncoderModel",
    "build_model",
    "LoadReport",
    "load_weights",
    "save_pretrained",
    "from_pretrained",
]

_LAZY = {
    "EncoderModel": "model",
    "build_model": "model",
    "LoadReport": "weights",
    "load_weights": "weights",
    "save_pretrained": "weights",
    "from_pretrained": "weights",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
