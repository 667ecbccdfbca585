import subprocess
import sys


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_does_not_load_tensorflow():
    code = "import sys, easytx; from easytx import text; print('tensorflow' in sys.modules)"
    assert _run(code) == "False"


def test_legacy_keras_is_set_before_tensorflow_loads():
    code = (
        "import easytx, tensorflow as tf, tf_keras; "
        "print(tf.keras.callbacks.Callback is tf_keras.callbacks.Callback)"
    )
    assert _run(code) == "True"


def test_unknown_attribute_is_an_attribute_error():
    import easytx

    try:
        easytx.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
