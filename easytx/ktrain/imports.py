"""ktrain's ``ktrain.imports`` names that scripts and tests use (``ACC_NAME``, ``tempfile``...).

``keras`` and ``tf`` load on first use: ``keras`` is the Keras of easytx's model backend
(tf-keras for ``EASYTX_BACKEND=transformers``, Keras 3 otherwise).
"""

from __future__ import annotations

import logging
import math
import os
import os.path
import re
import shutil
import tempfile
import warnings
from typing import Any

import numpy as np

__all__ = [
    "ACC_NAME",
    "VAL_ACC_NAME",
    "np",
    "os",
    "re",
    "math",
    "shutil",
    "tempfile",
    "warnings",
    "logging",
    "keras",  # noqa: F822 - loaded on first use (__getattr__)
    "tf",  # noqa: F822
]

ACC_NAME = "accuracy"
VAL_ACC_NAME = "val_accuracy"


def __getattr__(name: str) -> Any:
    if name == "tf":
        import tensorflow as tf

        return tf
    if name == "keras":
        from .._env import requested_backend

        if requested_backend() in ("transformers", "legacy"):
            import tf_keras

            return tf_keras
        import keras

        return keras
    raise AttributeError(f"module 'easytx.ktrain.imports' has no attribute {name!r}")
