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
    "calibration_feeds",
    "vocabulary_texts",
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
        simplified = _convert(tf2onnx, serve, spec, tmp / "model.onnx", opset, _vocab_size(predictor))
        if simplified:
            manifest["simplified"] = simplified
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


def _convert(tf2onnx: Any, serve: Any, spec: dict, path: Path, opset: int, vocab_size: int) -> dict:
    """tf2onnx's graph of ``serve``, then :func:`easytx.onnx_graph.simplify_file` on it (checked on
    random token ids below ``vocab_size``); returns what the simplification changed."""
    from . import onnx_graph

    tf2onnx.convert.from_function(
        serve,
        input_signature=[spec],
        opset=opset,
        output_path=str(path),
        custom_op_handlers={"Erfc": (_erfc_handler, [])},
    )
    return onnx_graph.simplify_file(path, onnx_graph.validation_feeds(list(spec), vocab_size=vocab_size))


def _vocab_size(predictor: Any) -> int:
    """Size of the predictor's vocabulary (2 when it cannot tell: ids 0 and 1 exist in any)."""
    try:
        return len(predictor.preproc.tokenizer)
    except (AttributeError, TypeError):
        return 2


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
    simplified = _convert(tf2onnx, serve, spec, Path(path), opset, _vocab_size(predictor))
    return {
        "inputs": list(spec),
        "outputs": ["logits", *(["probabilities"] if activation else [])],
        "opset": opset,
        **({"simplified": simplified} if simplified else {}),
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
#: an input channel of a matrix multiplication is an outlier when its largest calibrated |value|
#: is above this many times the median channel's (at most OUTLIER_LIMIT channels per input)
OUTLIER_RATIO = 5.0
OUTLIER_LIMIT = 16


def quantize_int8(
    source: str | os.PathLike, target: str | os.PathLike, calibration: list[dict] | None = None
) -> dict:
    """Write an int8 copy of the ONNX graph ``source`` to ``target``: onnxruntime's dynamic
    quantization (``quantize_dynamic``: int8 weights, one scale per output channel, for the
    matrix multiplications with constant weights; activations quantized on the fly).

    With ``calibration`` (input feeds for the graph, see :func:`calibration_feeds`), the outlier
    input channels of each matrix multiplication stay in float32 first: ``x @ W`` becomes
    ``(x * mask) @ W + x[..., idx] @ W[idx]``, where ``idx`` are the few channels whose largest
    value over the calibration inputs is more than :data:`OUTLIER_RATIO` times the median
    channel's (channel 99 of all-MiniLM-L6-v2's feed-forward inputs reaches 30 where the median
    channel reaches 2). Only the first product is quantized, and its one dynamic scale per batch
    no longer has to stretch over the outliers. Measured on all-MiniLM-L6-v2 fine-tuned on SST-2
    (1,000 test sentences, ``benchmarks/int8_methods.py``): the mean probability change halves
    (0.008 instead of 0.015), the largest is 0.19 to 0.24 instead of 0.36, labels agree with the
    float32 graph on 98.8 to 99.1% of texts (depending on the calibration texts) instead of 98.1%,
    for 4 to 11% of the int8 speed.

    Returns
    -------
    dict
        :data:`INT8_OPTIONS`, plus ``outlier_split`` (the ratio, and how many matrix
        multiplications and channels were split) when ``calibration`` was given.

    Raises
    ------
    MissingDependencyError
        onnxruntime (with its quantization tools) or onnx is not installed.
    """
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise MissingDependencyError(
            f"int8 quantization needs onnxruntime and onnx: {_ONNX_HINT} ({exc})."
        ) from None
    options: dict[str, Any] = dict(INT8_OPTIONS)
    model: Any = str(source)
    exclude: list[str] = []
    if calibration:
        graph = onnx.load(str(source))
        maxima = _input_maxima(graph, calibration)
        model, exclude, channels = _split_outliers(graph, maxima, OUTLIER_RATIO, OUTLIER_LIMIT)
        options["outlier_split"] = {"ratio": OUTLIER_RATIO, "matmuls": len(exclude), "channels": channels}
    # quantize_dynamic logs advice through logging.warning() on the root logger, which would
    # also configure the root logger (basicConfig) of a process that has not: keep both out
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    advice = _DropQuantizationAdvice()
    if guard is not None:
        root.addHandler(guard)
    root.addFilter(advice)
    try:
        quantize_dynamic(
            model, str(target), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=exclude
        )
    finally:
        root.removeFilter(advice)
        if guard is not None:
            root.removeHandler(guard)
    return options


def _weight_matmuls(model: Any) -> list:
    """MatMul nodes whose second input is a constant 2-D weight (those quantize_dynamic quantizes)."""
    inits = {i.name: i for i in model.graph.initializer}
    return [
        n
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2
    ]


def _input_maxima(model: Any, feeds: list[dict]) -> dict:
    """Largest |value| of each channel (last axis) of each weight MatMul's input over ``feeds``
    (the padded positions included, as dynamic quantization sees them)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    names = list(dict.fromkeys(n.input[0] for n in _weight_matmuls(model)))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    for name in names:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    types = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32}
    wanted = {i.name: types.get(i.type) for i in session.get_inputs()}
    maxima: dict = {}
    for feed in feeds:
        inputs = {k: np.asarray(feed[k], dtype=t) for k, t in wanted.items()}
        for name, out in zip(names, session.run(names, inputs)):
            top = np.abs(out.reshape(-1, out.shape[-1])).max(0)
            maxima[name] = top if name not in maxima else np.maximum(maxima[name], top)
    return maxima


def _split_outliers(
    model: Any, maxima: dict, ratio: float, limit: int, only: set[str] | None = None
) -> tuple[Any, list[str], int]:
    """A copy of ``model`` (the same function in float32) where each weight MatMul's outlier input
    channels go through a small float32 MatMul of their own: ``x @ W = (x * mask) @ W +
    x[..., idx] @ W[idx]``. ``only``: split these MatMuls (by node name) and leave the others.
    Returns the graph, the small MatMuls' names (to keep out of quantization) and the number of
    channels split off."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {i.name: i for i in out.graph.initializer}
    targets = {n.name for n in _weight_matmuls(out) if only is None or n.name in only}
    shared: dict[str, tuple[str, str, Any]] = {}
    nodes: list = []
    small: list[str] = []
    for node in out.graph.node:
        top = maxima.get(node.input[0]) if node.name in targets else None
        if top is None:
            nodes.append(node)
            continue
        idx = np.argsort(top)[::-1][:limit]
        idx = np.sort(idx[top[idx] > ratio * np.median(top)])
        if idx.size == 0:
            nodes.append(node)
            continue
        x = node.input[0]
        if x not in shared:
            key = f"{node.name}/outliers"
            mask = np.ones(top.size, np.float32)
            mask[idx] = 0
            out.graph.initializer.append(numpy_helper.from_array(mask, f"{key}/mask"))
            out.graph.initializer.append(numpy_helper.from_array(idx.astype(np.int64), f"{key}/idx"))
            nodes.append(helper.make_node("Mul", [x, f"{key}/mask"], [f"{key}/inliers"], name=f"{key}/mul"))
            nodes.append(
                helper.make_node(
                    "Gather", [x, f"{key}/idx"], [f"{key}/values"], name=f"{key}/gather", axis=-1
                )
            )
            shared[x] = (f"{key}/inliers", f"{key}/values", idx)
        inliers, values, idx = shared[x]
        weight = numpy_helper.to_array(inits[node.input[1]])
        rows, result = f"{node.name}/outlier_rows", node.output[0]
        out.graph.initializer.append(numpy_helper.from_array(weight[idx].astype(weight.dtype), rows))
        node.input[0], node.output[0] = inliers, f"{node.name}/inlier_part"
        nodes.append(node)
        nodes.append(
            helper.make_node(
                "MatMul", [values, rows], [f"{node.name}/outlier_part"], name=f"{node.name}/outlier_matmul"
            )
        )
        nodes.append(
            helper.make_node(
                "Add",
                [node.output[0], f"{node.name}/outlier_part"],
                [result],
                name=f"{node.name}/outlier_add",
            )
        )
        small.append(f"{node.name}/outlier_matmul")
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out, small, int(sum(len(v[2]) for v in shared.values()))


def vocabulary_texts(tokenizer: Any, *, n: int = 300, seed: int = 0) -> list[str] | None:
    """``n`` texts of 5 to 40 whole words drawn at random from ``tokenizer``'s own vocabulary (a
    ``tokenizers.Tokenizer``): calibration without any data, since the outlier channels are the
    model's whatever the text. ``None`` when the vocabulary has fewer than 100 whole words."""
    import re

    import numpy as np

    vocab = tokenizer.get_vocab()
    words = sorted({w.lstrip("\u0120\u2581") for w in vocab if re.fullmatch("[\u0120\u2581]?[a-z]{3,}", w)})
    if len(words) < 100:
        return None
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, rng.integers(5, 41))) for _ in range(n)]


def calibration_feeds(
    tokenizer: Any,
    input_names: list[str],
    *,
    maxlen: int,
    pad_id: int = 0,
    n: int = 300,
    batch_size: int = 32,
    seed: int = 0,
    texts: list[str] | None = None,
) -> list[dict] | None:
    """Input feeds to find a graph's outlier channels without any data: ``n`` texts of 5 to 40
    whole words drawn at random from the tokenizer's own vocabulary (the outlier channels are the
    model's, whatever the text), tokenized by ``tokenizer`` (a ``tokenizers.Tokenizer``) and padded
    per batch (``texts``, when given, instead of the random ones). ``None`` when the graph takes
    inputs other than token ids, attention mask and token types, or the vocabulary has too few
    whole words."""
    import numpy as np

    fields = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
    if not input_names or any(name not in fields for name in input_names):
        return None
    if texts is None:
        texts = vocabulary_texts(tokenizer, n=n, seed=seed)
        if texts is None:
            return None
    tok = type(tokenizer).from_str(tokenizer.to_str())
    tok.no_padding()
    tok.enable_truncation(max_length=maxlen)
    feeds = []
    for start in range(0, len(texts), batch_size):
        encodings = tok.encode_batch(texts[start : start + batch_size])
        width = max(len(e.ids) for e in encodings)
        feed = {}
        for name in input_names:
            pad = pad_id if name == "input_ids" else 0
            rows = [list(getattr(e, fields[name])) for e in encodings]
            feed[name] = np.array([r + [pad] * (width - len(r)) for r in rows], dtype=np.int32)
        feeds.append(feed)
    return feeds


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
