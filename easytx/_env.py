"""Process environment that must be in place before TensorFlow is first imported.

easytx has two model backends (see :mod:`easytx.backend`):

* ``"keras3"``: our own encoders on Keras 3, the ``keras`` package TensorFlow >= 2.16 ships. It
  needs no environment variable, and ``import easytx`` leaves ``tf.keras`` as it is.
* ``"transformers"``: Hugging Face's TF classes on tf-keras (Keras 2), from the ``legacy`` extra.
  easytx reaches tf-keras by its own name (``import tf_keras``), so this backend works whatever
  ``tf.keras`` is. Only a user who wants ``tf.keras`` itself to be Keras 2 (to pass ``tf.keras``
  callbacks to a legacy model) needs ``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads: setting
  ``EASYTX_BACKEND=transformers`` in the environment asks easytx to set it, which changes
  ``tf.keras`` for the whole process (every notebook cell, every library).

This module quiets TensorFlow's C++ start-up logs, drops transformers' "TensorFlow classes are
deprecated" notice (easytx chose those classes on purpose for the legacy backend, and the Keras 3
backend is the way off them; the filter sits on transformers' two loggers that print it and drops
that one message only), applies that opt-in, and warns when it comes too
late (TensorFlow already imported). It imports nothing heavy.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

#: environment variable choosing the default backend: "auto", "keras3" or "transformers"
BACKEND_ENV = "EASYTX_BACKEND"
LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"


def requested_backend() -> str:
    """The backend named by ``EASYTX_BACKEND`` ("auto" when unset); spelling checked by the backend."""
    value = os.environ.get(BACKEND_ENV, "auto").strip().lower()
    return {"legacy": "transformers", "keras": "keras3", "": "auto"}.get(value, value)


class _DropTFBanner(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "TensorFlow and JAX classes are deprecated" not in record.getMessage()


_BANNER_FILTER = _DropTFBanner()
for _name in ("transformers.modeling_tf_utils", "transformers.tokenization_utils_base"):
    if not any(isinstance(f, _DropTFBanner) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_BANNER_FILTER)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if requested_backend() == "transformers" and os.environ.get(LEGACY_KERAS_ENV) != "1":
    # checked before setting the variable: once TensorFlow is loaded, setting it changes nothing
    if "tensorflow" in sys.modules:
        warnings.warn(
            f"{BACKEND_ENV}=transformers asks for tf.keras to be Keras 2, but TensorFlow was imported "
            f"before easytx, so tf.keras stays Keras 3. easytx's legacy backend still works (it uses "
            "the tf_keras package directly); pass tf_keras callbacks to it, or set "
            f"{LEGACY_KERAS_ENV}=1 before anything imports TensorFlow.",
            RuntimeWarning,
            stacklevel=2,
        )
    else:
        os.environ[LEGACY_KERAS_ENV] = "1"
