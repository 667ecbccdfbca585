"""Process environment that must be in place before TensorFlow is first imported.

Hugging Face's TensorFlow models need Keras 2 (the ``tf-keras`` package). TensorFlow >= 2.16 ships
Keras 3 as ``tf.keras`` unless ``TF_USE_LEGACY_KERAS=1`` is set *before* TensorFlow is imported, so
this module sets it (without overriding a value the user chose) and quiets TensorFlow's C++ start-up
logs. It imports nothing heavy.
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# transformers prints a deprecation banner for its TF classes on every import; it is not actionable
# for our users (easytx pins transformers<5 on purpose).
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":  # pragma: no cover
    warnings.warn(
        "TensorFlow was imported before easytx with TF_USE_LEGACY_KERAS unset, so `tf.keras` is "
        "Keras 3. easytx itself uses tf-keras and still works, but Keras 3 callbacks you pass to "
        "fit() will be refused. Import easytx first, or set TF_USE_LEGACY_KERAS=1 before importing "
        "TensorFlow.",
        RuntimeWarning,
        stacklevel=2,
    )
