import os
import subprocess
import sys

import pytest


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("EASYTX_BACKEND", "TF_USE_LEGACY_KERAS")}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=clean)


def test_import_does_not_load_tensorflow():
    code = "import sys, easytx; from easytx import text; print('tensorflow' in sys.modules)"
    assert _run(code).stdout.strip() == "False"


@pytest.mark.integration
def test_import_leaves_tf_keras_alone_by_default():
    # the Keras 3 backend needs no global switch: tf.keras stays what TensorFlow made it
    code = "import easytx, tensorflow as tf, keras; print(tf.keras.__version__.split('.')[0])"
    assert _run(code).stdout.strip() == "3"


@pytest.mark.integration
@pytest.mark.legacy
def test_legacy_backend_opt_in_sets_legacy_keras_before_tensorflow_loads():
    code = (
        "import easytx, tensorflow as tf, tf_keras; "
        "print(tf.keras.callbacks.Callback is tf_keras.callbacks.Callback)"
    )
    assert _run(code, EASYTX_BACKEND="transformers").stdout.strip() == "True"


@pytest.mark.integration
def test_legacy_opt_in_after_tensorflow_warns():
    code = "import warnings; warnings.simplefilter('always'); import tensorflow, easytx"
    out = _run(code, EASYTX_BACKEND="transformers")
    assert "TensorFlow was imported before easytx" in out.stderr
    assert "RuntimeWarning" in out.stderr


def test_unknown_attribute_is_an_attribute_error():
    import easytx

    try:
        easytx.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
