"""Export a :class:`~easytx.Predictor` for serving without easytx: TF SavedModel and ONNX
(and one TensorFlow Lite file, :func:`write_tflite`, for ``easytx.ktrain``'s
``export_model_to_tflite``).

Both formats take **token ids**, not raw strings: the Hugging Face fast tokenizers (Rust) have no
TensorFlow or ONNX op, so tokenization stays outside the graph. The export ships the tokenizer's
``tokenizer.json`` next to the model, which the small ``tokenizers`` package (no TensorFlow, no
PyTorch) reads in any client; ``easytx_export.json`` says how to call the model (input names,
maximum length, padding id, class names). See ``docs/serving.md`` for client code.

Layouts::

    saved_model/                     onnx/
      saved_model.pb                   model.onnx
      variables/                       easytx_export.json
      assets.extra/                    tokenizer/
        easytx_export.json
        tokenizer/

``assets.extra/`` is the SavedModel convention for files the graph does not use; TF Serving
ignores it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import (
    __version__,
    _env,  # noqa: F401
)
from ._keras import logits_of
from .errors import ArtifactError, ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "EXPORT_MANIFEST",
    "export_predictor",
    "read_export_manifest",
    "check_destination",
    "import_tf2onnx",
    "write_onnx_graph",
    "quantize_int8",
    "write_tflite",
]

FORMATS = ("saved_model", "onnx")
EXPORT_MANIFEST = "easytx_export.json"
#: ONNX opset written by default: supported by onnxruntime >= 1.14 and tf2onnx 1.17
DEFAULT_OPSET = 17

_ONNX_HINT = "ONNX export needs tf2onnx and onnx: pip install 'easytx-nlp[onnx]'"


def _activation(task_name: str) -> str | None:
    """Name of the in-graph function turning logits into the task's probabilities."""
    if task_name == "classification":
        return "softmax"
    if "multilabel" in task_name.replace("_", "").replace("-", ""):
        return "sigmoid"
    return None


def _serving_function(predictor: Any, seq_len: int | None = None) -> tuple[Any, dict, str | None]:
    """A ``tf.function`` from named int32 token inputs to ``logits`` (and ``probabilities``);
    ``seq_len`` fixes the inputs' second axis (TFLite), ``None`` leaves it free."""
    import tensorflow as tf

    model = predictor.model
    names = predictor.preproc.model_input_names
    spec = {name: tf.TensorSpec((None, seq_len), tf.int32, name=name) for name in names}
    activation = _activation(predictor.task.name)

    @tf.function(input_signature=[spec])
    def serve(inputs):
        logits = logits_of(model(inputs, training=False))
        outputs = {"logits": tf.identity(logits, name="logits")}
        if activation == "softmax":
            outputs["probabilities"] = tf.nn.softmax(logits, axis=-1, name="probabilities")
        elif activation == "sigmoid":
            outputs["probabilities"] = tf.math.sigmoid(logits, name="probabilities")
        return outputs

    return serve, spec, activation


def _manifest(predictor: Any, fmt: str, names: list[str], activation: str | None) -> dict:
    import tensorflow as tf
    import transformers

    tokenizer = predictor.preproc.tokenizer
    classes = [c if isinstance(c, (str, int, bool)) else str(c) for c in predictor.get_classes()]
    return {
        "format": fmt,
        "easytx_version": __version__,
        "versions": {"tensorflow": tf.__version__, "transformers": transformers.__version__},
        "task": predictor.task.name,
        "classes": classes,
        "model_name": predictor.preproc.model_name,
        "inputs": {name: {"dtype": "int32", "shape": ["batch", "sequence"]} for name in names},
        "outputs": ["logits", *(["probabilities"] if activation else [])],
        "probabilities": activation,
        "maxlen": int(predictor.preproc.maxlen_),
        "pad_token": tokenizer.pad_token,
        "pad_token_id": int(tokenizer.pad_token_id or 0),
        "tokenizer": "tokenizer/tokenizer.json",
        "metrics": dict(predictor.metrics),
        "notes": (
            "Tokenize with tokenizer/tokenizer.json (pip install tokenizers): truncate to maxlen "
            "tokens, pad each batch with pad_token_id, attention_mask 1 for real tokens and 0 for "
            "padding. Class i of `probabilities` is classes[i]."
        ),
    }


def check_destination(folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Refuse a destination that exists and is not empty, unless ``overwrite``."""
    folder = Path(folder).expanduser().absolute()
    if folder.exists() and not (folder.is_dir() and not any(folder.iterdir())) and not overwrite:
        raise ArtifactError(
            f"{folder} already exists and is not empty. Pass overwrite=True (CLI: --overwrite) to "
            "replace it, or choose another folder."
        )
    return folder


def _write_atomically(folder: Path, overwrite: bool, write: Callable[[Path], None]) -> Path:
    folder = check_destination(folder, overwrite=overwrite)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    except OSError as exc:
        raise ArtifactError(f"Cannot write an export into {folder.parent}: {exc.strerror or exc}.") from None
    try:
        write(tmp)
        if folder.exists():
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _erfc_handler(ctx: Any, node: Any, name: str, args: Any) -> Any:
    """tf2onnx handler for TensorFlow's ``Erfc`` (used by exact GELU): ``1 - Erf(x)``.

    tf2onnx 1.17 has no converter for ``Erfc``, which TensorFlow >= 2.16 emits for
    ``gelu(approximate=False)`` in BERT-style models.
    """
    import numpy as np
    from tf2onnx import utils

    node.type = "Erf"
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1.0, dtype=dtype))
    ctx.insert_new_node_on_output(
        "Sub", node.output[0], name=utils.make_name(node.name), inputs=[one.output[0], node.output[0]]
    )
    return node


def import_tf2onnx() -> Any:
    """Import tf2onnx (and check onnx), or raise :class:`MissingDependencyError`."""
    try:
        import onnx  # noqa: F401
        import tf2onnx
    except ImportError as exc:
        raise MissingDependencyError(f"{_ONNX_HINT} ({exc}).") from None
    return tf2onnx


def export_predictor(
    predictor: Any,
    folder: str | os.PathLike,
    format: str = "saved_model",
    *,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
) -> Path:
    """Write ``predictor`` as a TF SavedModel or an ONNX model, with its tokenizer.

    Parameters
    ----------
    predictor : Predictor
    folder : path
        Destination folder (written atomically; for TF Serving use ``models/NAME/1``).
    format : {"saved_model", "onnx"}
    opset : int
        ONNX opset (``format="onnx"`` only).
    overwrite : bool
        Replace an existing, non-empty ``folder``.

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    ConfigError
        Unknown format.
    MissingDependencyError
        ``format="onnx"`` without tf2onnx/onnx installed.
    """
    if format not in FORMATS:
        raise ConfigError(f"`format` must be one of {FORMATS}. Received: format={format!r}")
    if format == "onnx":
        tf2onnx = import_tf2onnx()
        check_opset(opset)
    import tensorflow as tf

    serve, spec, activation = _serving_function(predictor)
    manifest = _manifest(predictor, format, list(spec), activation)

    def write_extras(where: Path) -> None:
        where.mkdir(parents=True, exist_ok=True)
        predictor.preproc.save_tokenizer(where / "tokenizer")
        (where / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    def write_saved_model(tmp: Path) -> None:
        holder = tf.Module()
        holder.weights = list(predictor.model.weights)  # tracked, so the graph's variables are saved
        holder.serve = serve
        tf.saved_model.save(holder, str(tmp), signatures={"serving_default": serve.get_concrete_function()})
        write_extras(tmp / "assets.extra")

    def write_onnx(tmp: Path) -> None:
        _convert(tf2onnx, serve, spec, tmp / "model.onnx", opset)
        write_extras(tmp)

    _quiet_tf2onnx()
    writer = write_saved_model if format == "saved_model" else write_onnx
    out = _write_atomically(Path(folder), overwrite, writer)
    logger.info("Exported the predictor as %s to %s", format, out)
    return out


def check_opset(opset: Any) -> int:
    """``opset`` if it is an int ONNX opset easytx writes (13 to 18), else :class:`ConfigError`."""
    if isinstance(opset, bool) or not isinstance(opset, int) or not 13 <= opset <= 18:
        raise ConfigError(f"`opset` must be an int between 13 and 18. Received: opset={opset!r}")
    return opset


def _convert(tf2onnx: Any, serve: Any, spec: dict, path: Path, opset: int) -> None:
    tf2onnx.convert.from_function(
        serve,
        input_signature=[spec],
        opset=opset,
        output_path=str(path),
        custom_op_handlers={"Erfc": (_erfc_handler, [])},
    )


def write_onnx_graph(predictor: Any, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET) -> dict:
    """Write ``predictor``'s model as one ONNX graph file (token ids in; ``logits``, and
    ``probabilities`` for classification, out), the graph :func:`export_predictor` writes.

    Used by :meth:`Predictor.save(..., onnx=True) <easytx.Predictor.save>` to put the graph of the
    ONNX engine into the predictor folder.

    Returns
    -------
    dict
        ``{"inputs": [...], "outputs": [...], "opset": opset}``.
    """
    tf2onnx = import_tf2onnx()
    check_opset(opset)
    serve, spec, activation = _serving_function(predictor)
    _quiet_tf2onnx()
    _convert(tf2onnx, serve, spec, Path(path), opset)
    return {
        "inputs": list(spec),
        "outputs": ["logits", *(["probabilities"] if activation else [])],
        "opset": opset,
    }


def write_tflite(predictor: Any, path: str | os.PathLike) -> dict:
    """Write ``predictor``'s model as one TensorFlow Lite file: the graph of :func:`write_onnx_graph`
    with int32 token inputs of shape ``(batch, maxlen)`` (pad every text to the predictor's
    ``maxlen``), outputs ``logits`` (first) and ``probabilities`` for classification.

    TFLite's builtin operations are used alone when they suffice (the BERT family on both
    backends), so any TFLite interpreter runs the file; otherwise TensorFlow's own operations are
    added (the interpreter then needs the Flex delegate), with a warning.

    Returns
    -------
    dict
        ``{"inputs": [...], "outputs": [...], "maxlen": maxlen, "select_tf_ops": bool}``.

    Raises
    ------
    ConfigError
        TensorFlow's converter cannot convert the model; the message names the ONNX export.
    """
    import tensorflow as tf

    from ._keras import tf_variable

    maxlen = int(predictor.preproc.maxlen_)
    serve, spec, activation = _serving_function(predictor, seq_len=maxlen)
    holder = tf.Module()  # the variables the converter freezes into the file (tf.Variables)
    holder.weights = [tf_variable(v) for v in predictor.model.weights]
    concrete = serve.get_concrete_function()

    def convert(ops: list) -> bytes:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
        converter.target_spec.supported_ops = ops
        return converter.convert()

    select = False
    try:
        data = convert([tf.lite.OpsSet.TFLITE_BUILTINS])
    except Exception:  # noqa: BLE001 - the converter raises several error classes
        try:
            data = convert([tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS])
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(
                f"TensorFlow's TFLite converter cannot convert this {type(predictor.model).__name__} "
                f"({type(exc).__name__}: {str(exc)[:300]}). Export to ONNX instead: "
                "predictor.export(folder, format='onnx') (easytx.ktrain: "
                "predictor.export_model_to_onnx(path)), which onnxruntime runs without TensorFlow."
            ) from None
        select = True
        logger.warning(
            "%s needs TensorFlow operations beyond TFLite's builtins: run it with an interpreter "
            "that has the Flex delegate (the tensorflow package's tf.lite.Interpreter), or export "
            "to ONNX instead.",
            path,
        )
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "inputs": list(spec),
        "outputs": ["logits", *(["probabilities"] if activation else [])],
        "maxlen": maxlen,
        "select_tf_ops": select,
    }


#: how :func:`quantize_int8` quantizes (recorded in a predictor's easytx.json)
INT8_OPTIONS = {"method": "dynamic", "weight_type": "QInt8", "per_channel": True}


def quantize_int8(source: str | os.PathLike, target: str | os.PathLike) -> dict:
    """Write an int8 copy of the ONNX graph ``source`` to ``target``: onnxruntime's dynamic
    quantization (``quantize_dynamic``: int8 weights, one scale per output channel, for the
    matrix multiplications with constant weights; activations quantized on the fly).

    Per-channel scales, measured on all-MiniLM-L6-v2 fine-tuned on SST-2 (600 test sentences):
    labels agree with the float32 graph on 98.5% of texts instead of 96.5% with one scale per
    tensor, the largest probability change is 0.15 instead of 0.40, at the same speed.

    Returns
    -------
    dict
        :data:`INT8_OPTIONS`.

    Raises
    ------
    MissingDependencyError
        onnxruntime (with its quantization tools) or onnx is not installed.
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise MissingDependencyError(
            f"int8 quantization needs onnxruntime and onnx: {_ONNX_HINT} ({exc})."
        ) from None
    # quantize_dynamic logs advice through logging.warning() on the root logger, which would
    # also configure the root logger (basicConfig) of a process that has not: keep both out
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    advice = _DropQuantizationAdvice()
    if guard is not None:
        root.addHandler(guard)
    root.addFilter(advice)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(advice)
        if guard is not None:
            root.removeHandler(guard)
    return dict(INT8_OPTIONS)


class _DropQuantizationAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _quiet_tf2onnx() -> None:
    """tf2onnx logs every conversion step at INFO; keep its warnings only."""
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)


def read_export_manifest(folder: str | os.PathLike) -> dict:
    """Read ``easytx_export.json`` from an exported folder (either layout)."""
    folder = Path(folder)
    for candidate in (folder / EXPORT_MANIFEST, folder / "assets.extra" / EXPORT_MANIFEST):
        if candidate.is_file():
            return json.loads(candidate.read_text(encoding="utf-8"))
    raise ArtifactError(f"{folder} is not an easytx export (no {EXPORT_MANIFEST}).")
