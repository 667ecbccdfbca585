"""Ways to quantize a predictor's ONNX graph to int8, side by side: label agreement, speed, size.

    python benchmarks/int8_methods.py PREDICTOR_FOLDER            # a folder saved with onnx=True
    python benchmarks/int8_methods.py PREDICTOR_FOLDER --methods per-channel smoothquant-0.8

Each method writes an int8 copy of the folder's ``model.onnx`` (float32) and runs it in place of
the float32 graph inside the same loaded predictor (same tokenization, same length-sorted batches
of 32), on the first ``--texts`` SST-2 test sentences. Printed per method: label agreement with the
float32 graph, the largest and mean probability change, test accuracy, batch texts/s and one-text
p50 as ratios to the float32 graph (same process, measured one after the other: compare within a
run), and the file size. The float32 ONNX graph gives the TF engine's probabilities to 1e-6, so
agreement with it is agreement with the TF engine.

Methods (onnxruntime's dynamic quantization unless named otherwise):

- ``per-tensor``: one int8 scale per weight matrix.
- ``per-channel``: one scale per output column (what ``save(onnx="int8")`` writes).
- ``matmul-only``: per-channel, the embedding tables (``Gather``) left in float32.
- ``no-ffn-down``: per-channel, the feed-forward down-projections left in float32.
- ``smoothquant-A``: SmoothQuant (Xiao et al., 2022) with migration strength A: each MatMul's
  input is divided per channel by ``s = max|x|^A / max|w|^(1-A)`` (maxima over ``--calibration``
  SST-2 training sentences) and its weight rows multiplied by ``s`` (the same function in float32),
  then per-channel dynamic quantization.
- ``blockwise-B``: ``MatMulNBits`` (8-bit weights in blocks of B along the input axis,
  ``accuracy_level=4``: inputs quantized to int8 per block of each row, int8 arithmetic); needs
  the ``onnx_ir`` package. ``blockwise4-B``: the same with 4-bit weights.
- ``per-channel-reduce-range``, ``per-channel-u8-weights``, ``per-channel-head`` (pooler and
  classifier in float32): per-channel with one option changed.
- ``static-{qdq,qop}-{minmax,p99.99,p99.999,entropy}[-sym][-avg][-s8]``: ``quantize_static``
  (QDQ or QOperator format, per-channel int8 weights, uint8 activations or ``-s8`` int8 ones,
  ``MatMulConstBOnly``), calibrated on ``--calibration`` SST-2 training sentences with MinMax,
  Percentile or Entropy; ``-sym``: ``ActivationSymmetric``, ``-avg``: ``CalibMovingAverage``.
- ``mix-attn``, ``mix-ffn``: static (QOperator, percentile 99.99) for the attention
  projections or the feed-forward ones, dynamic per-channel for the rest.
- ``fallback-K``: the K MatMuls most sensitive to quantization in float32, the rest per-channel;
  sensitivity = mean change of the log-odds on 200 SST-2 training sentences when only that
  MatMul is quantized (``fallback-but-K``: how much the change drops when all but it are).
- ``outlier-split-R[-up|-down|-other][-topN][-vocab][-head][-fbK]``: each MatMul's outlier input
  channels (calibrated max |x| above R times the median channel's) go through a float32 MatMul of
  their own, ``x @ W = (x * mask) @ W + x[:, idx] @ W[idx]``, and only the first product is
  quantized (per-channel, dynamic), so its one activation scale no longer stretches over the
  outliers. ``-up``/``-down``/``-other``: only those MatMuls; ``-topN``: at most N channels per
  input; ``-vocab``: calibrated on random words of the vocabulary instead of SST-2; ``-head``:
  pooler and classifier in float32; ``-fbK``: also the K most sensitive MatMuls of the split graph;
  ``-gptq``: the weights rounded GPTQ's way (Frantar et al., 2022) on onnxruntime's int8 grid,
  with ``X^T X`` of each MatMul's input over the calibration sentences.
- Diagnostics, in float32 arithmetic: ``weights-only`` (the weights rounded as per-channel int8
  does; ``weights-only-gptq``: GPTQ's way), ``activations-only`` (each MatMul's input through
  ``DynamicQuantizeLinear`` and back, float32 weights; ``activations-only-split``: after the
  outlier split at 5).
- ``save-int8[-seedN|-sst2]``: what ``save(onnx="int8")`` writes
  (``easytx.export.quantize_int8``: outlier split at R=5, calibrated on 300 texts of random words
  of the vocabulary, draw N; ``-sst2``: on SST-2 training sentences instead).

``--threads 1`` runs every graph on one intra-op thread, and the "texts per CPU-s" column (this
process's CPU time) then moves less than the wall clock when other processes share the cores;
``--rounds N`` times every graph N times in turn and keeps each one's best.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import sst2  # noqa: E402

DEFAULT_METHODS = (
    "per-tensor",
    "per-channel",
    "matmul-only",
    "no-ffn-down",
    "smoothquant-0.5",
    "smoothquant-0.8",
    "blockwise-32",
    "blockwise-128",
)


def weight_matmuls(model) -> list:
    """MatMul nodes whose second input is a constant 2-D weight (those int8 quantizes)."""
    from easytx.export import _weight_matmuls

    return _weight_matmuls(model)


def activation_maxima(model, predictor, texts: list[str]) -> dict[str, np.ndarray]:
    """Per-channel max |x| of each weight MatMul's input over ``texts`` (real tokens only)."""
    import onnx
    import onnxruntime as ort

    names = [n.input[0] for n in weight_matmuls(model)]
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in names:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    maxima: dict[str, np.ndarray] = {}
    forward = predictor.model.numpy_forward

    def probing_forward(inputs):
        outs = session.run(names, {k: inputs[k] for k in predictor.model.input_names})
        real = inputs["attention_mask"].astype(bool).reshape(-1)
        for name, out in zip(names, outs):
            rows = out.reshape(-1, out.shape[-1])
            rows = rows[real] if rows.shape[0] == real.size else rows
            top = np.abs(rows).max(0)
            maxima[name] = top if name not in maxima else np.maximum(maxima[name], top)
        return forward(inputs)

    predictor.model.numpy_forward = probing_forward
    try:
        predictor.predict_proba(texts, verbose=0)
    finally:
        predictor.model.numpy_forward = forward
    return maxima


def smoothed(model, maxima: dict[str, np.ndarray], alpha: float):
    """The float32 graph with SmoothQuant's per-channel scales moved from inputs into weights."""
    import onnx
    from onnx import numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {i.name: i for i in out.graph.initializer}
    targets = {n.name for n in weight_matmuls(out)}
    nodes = []
    for node in out.graph.node:
        if node.name in targets:
            weight = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
            x_max = np.maximum(maxima[node.input[0]].astype(np.float64), 1e-5)
            w_max = np.maximum(np.abs(weight).max(1), 1e-5)
            scale = np.clip(x_max**alpha / w_max ** (1 - alpha), 1e-3, 1e3)
            inits[node.input[1]].CopyFrom(
                numpy_helper.from_array((weight * scale[:, None]).astype(np.float32), node.input[1])
            )
            inverse = f"{node.name}/smooth_inverse"
            out.graph.initializer.append(numpy_helper.from_array((1 / scale).astype(np.float32), inverse))
            nodes.append(
                onnx.helper.make_node(
                    "Mul", [node.input[0], inverse], [f"{node.name}/smoothed"], name=f"{node.name}/smooth"
                )
            )
            node.input[0] = f"{node.name}/smoothed"
        nodes.append(node)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def calibration_batches(predictor, texts: list[str]) -> list[dict[str, np.ndarray]]:
    """The padded input batches the predictor builds for ``texts`` (for static calibration)."""
    batches: list[dict[str, np.ndarray]] = []
    forward = predictor.model.numpy_forward

    def recording_forward(inputs):
        batches.append({k: np.asarray(inputs[k]) for k in predictor.model.input_names})
        return forward(inputs)

    predictor.model.numpy_forward = recording_forward
    try:
        predictor.predict_proba(texts, verbose=0)
    finally:
        predictor.model.numpy_forward = forward
    # onnxruntime's histogram calibrators stack each tensor over batches, which must then all
    # have one shape: one text per batch, padded to the longest
    longest = max(b["input_ids"].shape[1] for b in batches)
    mask = np.concatenate([b["attention_mask"].reshape(-1) for b in batches])
    ids = np.concatenate([b["input_ids"].reshape(-1) for b in batches])
    pad_id = int(ids[mask == 0][0]) if (mask == 0).any() else 0
    rows = []
    for b in batches:
        extra = longest - b["input_ids"].shape[1]
        padded = {
            name: np.pad(v, ((0, 0), (0, extra)), constant_values=pad_id if name == "input_ids" else 0)
            for name, v in b.items()
        }
        rows.extend({name: v[i : i + 1] for name, v in padded.items()} for i in range(len(b["input_ids"])))
    return rows


def static_method(method: str) -> dict:
    """``static-{qdq,qop}-{minmax,p99.99,p99.999,entropy}[-sym][-avg][-s8]`` as quantize_static options."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

    parts = method.split("-")
    fmt, calib, flags = parts[1], parts[2], set(parts[3:])
    extra = {"MatMulConstBOnly": True, "WeightSymmetric": True}
    if "sym" in flags:
        extra["ActivationSymmetric"] = True
    if "avg" in flags:
        extra["CalibMovingAverage"] = True
    if calib == "minmax":
        calibrate = CalibrationMethod.MinMax
    elif calib == "entropy":
        calibrate = CalibrationMethod.Entropy
    elif calib.startswith("p"):
        calibrate = CalibrationMethod.Percentile
        extra["CalibPercentile"] = float(calib[1:])
    else:
        raise SystemExit(f"unknown calibration {calib!r} in {method!r}")
    return {
        "quant_format": QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
        "calibrate_method": calibrate,
        "activation_type": QuantType.QInt8 if "s8" in flags else QuantType.QUInt8,
        "weight_type": QuantType.QInt8,
        "per_channel": True,
        "op_types_to_quantize": ["MatMul"],
        "extra_options": extra,
    }


def margins(predictor, session, texts: list[str]) -> np.ndarray:
    """Each text's log-odds of the predicted float32 class (the quantity whose sign is the label)."""
    saved = predictor.model.session
    predictor.model.session = session
    try:
        proba = np.clip(predictor.predict_proba(texts, verbose=0), 1e-7, 1.0)
    finally:
        predictor.model.session = saved
    logp = np.log(proba)
    return logp[:, 1] - logp[:, 0] if logp.shape[1] == 2 else logp


_RANKINGS: dict[tuple[str, str], list[tuple[str, float]]] = {}


def sensitivity_ranking(
    source: Path, model, predictor, texts: list[str], mode: str, key: str = "", exclude: tuple = ()
) -> list:
    """Weight MatMuls, most sensitive first, with their error: the mean absolute change of the
    log-odds on ``texts`` (calibration sentences, not the test ones) when only that MatMul is
    quantized (``mode="only"``), or the reduction of that change when all but it are (``"but"``).
    """
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if (mode, key) in _RANKINGS:
        return _RANKINGS[mode, key]
    names = [n.name for n in weight_matmuls(model) if n.name not in exclude]
    options = ort.SessionOptions()
    ref = margins(predictor, predictor.model.session, texts)
    scores = []
    with tempfile.TemporaryDirectory(prefix="int8-rank-") as tmp:
        target = Path(tmp) / "one.onnx"
        base = None
        if mode == "but":
            quantize_dynamic(
                str(source),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=list(exclude),
            )
            session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
            base = float(np.abs(margins(predictor, session, texts) - ref).mean())
        for name in names:
            if mode == "only":
                chosen = {"nodes_to_quantize": [name]}
            else:
                chosen = {"nodes_to_exclude": [name, *exclude]}
            quantize_dynamic(
                str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, **chosen
            )
            session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
            error = float(np.abs(margins(predictor, session, texts) - ref).mean())
            scores.append((name, error if base is None else base - error))
    scores.sort(key=lambda item: -item[1])
    _RANKINGS[mode, key] = scores
    print(
        f"sensitivity ({mode}): "
        + ", ".join(
            f"{n.split('/')[2]}/{n.split('/')[3]}={e:.4f}" for n, e in scores[:8] if n.count("/") > 3
        ),
        file=sys.stderr,
    )
    return scores


def matmul_role(model, node) -> str:
    """``up`` / ``down`` for the feed-forward projections (to and from the widest size), else ``other``."""
    dims = {i.name: tuple(i.dims) for i in model.graph.initializer}
    widest = max(max(dims[n.input[1]]) for n in weight_matmuls(model))
    rows, cols = dims[node.input[1]]
    return "up" if cols == widest else "down" if rows == widest else "other"


def head_matmuls(model) -> list[str]:
    """The weight MatMuls after the encoder (pooler, classifier): they see one row per text."""
    return [n.name for n in weight_matmuls(model) if "block_" not in n.name]


def input_hessians(model, predictor, texts: list[str], names: list[str]) -> dict[str, np.ndarray]:
    """``X^T X`` of each tensor in ``names`` (the rows of real tokens) over ``texts``."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in names:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    hessians: dict[str, np.ndarray] = {}
    for feed in calibration_batches(predictor, texts):
        real = feed["attention_mask"].astype(bool).reshape(-1)
        for name, out in zip(names, session.run(names, {k: feed[k] for k in predictor.model.input_names})):
            rows = out.reshape(-1, out.shape[-1]).astype(np.float64)
            rows = rows[real] if rows.shape[0] == real.size else rows
            hessians[name] = hessians.get(name, 0) + rows.T @ rows
    return hessians


def gptq_int8(weight: np.ndarray, hessian: np.ndarray, damp: float = 0.01) -> np.ndarray:
    """``weight`` ([in, out], used as ``x @ weight``) rounded to the grid that onnxruntime's
    per-channel symmetric int8 uses (``max|column| / 127``), GPTQ's way (Frantar et al., 2022): one
    input row at a time, each row's rounding error pushed onto the rows not yet rounded through
    the inverse of ``X^T X``, so that ``X @ weight`` moves as little as possible. The largest
    value of each column stays on its grid end, so onnxruntime finds the same scales again."""
    w = weight.astype(np.float64).copy()
    h = hessian.copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[dead] = 0
    scale = np.maximum(np.abs(w).max(0), 1e-12) / 127
    h[np.diag_indices_from(h)] += damp * np.mean(np.diag(h))
    inverse = np.linalg.cholesky(np.linalg.inv(h)).T  # upper triangular
    q = np.zeros_like(w)
    for k in range(w.shape[0]):
        q[k] = np.clip(np.round(w[k] / scale), -127, 127)
        error = (w[k] - q[k] * scale) / inverse[k, k]
        w[k + 1 :] -= np.outer(inverse[k, k + 1 :], error)
    ends = np.abs(q).max(0) < 127  # keep each column's scale: its largest value back on +-127
    if ends.any():
        top = np.abs(weight.astype(np.float64) * ~dead[:, None]).argmax(0)
        cols = np.flatnonzero(ends)
        q[top[cols], cols] = 127 * np.sign(weight[top[cols], cols])
    return (q * scale).astype(np.float32)


def vocabulary_texts(predictor, n: int = 300, seed: int = 0) -> list[str]:
    """``n`` texts of 5 to 40 random whole words of the predictor's own vocabulary: calibration
    without any data, as ``save(onnx="int8")`` does (:func:`easytx.export.vocabulary_texts`)."""
    from easytx.export import vocabulary_texts as library_texts

    return library_texts(predictor.preproc.tokenizer.backend_tokenizer, n=n, seed=seed)


def outlier_split(
    model,
    maxima: dict[str, np.ndarray],
    ratio: float,
    limit: int = 16,
    roles: tuple = ("up", "down", "other"),
):
    """The float32 graph with the outlier input channels of the weight MatMuls of ``roles`` split
    off, as ``save(onnx="int8")`` splits them (:func:`easytx.export._split_outliers`): ``x @ W =
    (x * mask) @ W + x[..., idx] @ W[idx]``, where ``idx`` are the channels whose calibrated max
    |x| is above ``ratio`` times the channels' median. The first term is then quantized, the
    second stays float32. Returns the graph and the small MatMuls' names."""
    from easytx.export import _split_outliers

    only = {n.name for n in weight_matmuls(model) if matmul_role(model, n) in roles}
    graph, small, _ = _split_outliers(model, maxima, ratio, limit, only)
    return graph, small


def quantize(method: str, source: Path, target: Path, model, predictor, calibration: list[str]) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dynamic = {"weight_type": QuantType.QInt8}
    if method == "per-tensor":
        quantize_dynamic(str(source), str(target), per_channel=False, **dynamic)
    elif method == "per-channel":
        quantize_dynamic(str(source), str(target), per_channel=True, **dynamic)
    elif method == "matmul-only":
        quantize_dynamic(
            str(source), str(target), per_channel=True, op_types_to_quantize=["MatMul"], **dynamic
        )
    elif method == "no-ffn-down":
        inits = {i.name: tuple(i.dims) for i in model.graph.initializer}
        widest = max(inits[n.input[1]][0] for n in weight_matmuls(model))  # the intermediate size
        down = [n.name for n in weight_matmuls(model) if inits[n.input[1]][0] == widest]
        quantize_dynamic(str(source), str(target), per_channel=True, nodes_to_exclude=down, **dynamic)
    elif method.startswith("smoothquant-"):
        alpha = float(method.split("-", 1)[1])
        maxima = activation_maxima(model, predictor, calibration)
        fp32 = target.with_suffix(".fp32.onnx")
        onnx.save(smoothed(model, maxima, alpha), str(fp32))
        quantize_dynamic(str(fp32), str(target), per_channel=True, **dynamic)
    elif method.startswith(("blockwise-", "blockwise4-")):
        # blockwise-B: 8-bit weights; blockwise4-B: 4-bit weights (onnxruntime's optimized kernels)
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        block = int(method.split("-", 1)[1])
        bits = 4 if method.startswith("blockwise4-") else 8
        config = DefaultWeightOnlyQuantConfig(
            block_size=block, is_symmetric=True, accuracy_level=4, bits=bits
        )
        quantizer = MatMulNBitsQuantizer(
            onnx.load(str(source)),
            bits=bits,
            block_size=block,
            is_symmetric=True,
            accuracy_level=4,
            algo_config=config,
        )
        quantizer.process()
        quantizer.model.save_model_to_file(str(target), use_external_data_format=False)
    elif method.startswith("save-int8"):
        # what save(onnx="int8") writes (easytx.export.quantize_int8, calibrated on random words of
        # the vocabulary); save-int8-seedN: another draw of words; save-int8-sst2: SST-2 training texts
        from easytx.export import calibration_feeds, quantize_int8

        preproc = predictor.preproc
        seed = int(method.split("seed")[1]) if "seed" in method else 0
        feeds = calibration_feeds(
            preproc.tokenizer.backend_tokenizer,
            predictor.model.input_names,
            maxlen=preproc.maxlen_,
            pad_id=preproc._pad_id(),
            seed=seed,
            texts=calibration if method.endswith("-sst2") else None,
        )
        print(f"save-int8: {quantize_int8(source, target, feeds)}", file=sys.stderr)
    elif method.startswith("weights-only"):
        # diagnostic: the weights rounded as per-channel int8 does (one symmetric scale per output
        # column), everything computed in float32: how much of the error is the weights'
        from onnx import numpy_helper

        out = onnx.ModelProto()
        out.CopyFrom(model)
        inits = {i.name: i for i in out.graph.initializer}
        nodes = weight_matmuls(out)
        if method.endswith("-gptq"):  # weights-only-gptq: rounded GPTQ's way (gptq_int8)
            hessians = input_hessians(
                out, predictor, calibration, list(dict.fromkeys(n.input[0] for n in nodes))
            )
        for node in nodes:
            w = numpy_helper.to_array(inits[node.input[1]])
            scale = np.maximum(np.abs(w).max(0), 1e-12) / 127
            rounded = (np.clip(np.round(w / scale), -127, 127) * scale).astype(np.float32)
            if method.endswith("-gptq"):
                rounded = gptq_int8(w, hessians[node.input[0]])
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(rounded, node.input[1]))
        onnx.save(out, str(target))
    elif method.startswith("activations-only"):
        # diagnostic: each weight MatMul's input quantized and dequantized as dynamic quantization
        # does (DynamicQuantizeLinear: uint8, one scale per tensor), float32 weights;
        # activations-only-split: after the outlier split at 5 (SST-2 calibration)
        from onnx import helper

        graph, small = model, []
        if method.endswith("-split"):
            graph, small = outlier_split(model, activation_maxima(model, predictor, calibration), 5.0)
        out = onnx.ModelProto()
        out.CopyFrom(graph)
        targets = {n.name for n in weight_matmuls(out)} - set(small)
        nodes, done = [], {}
        for node in out.graph.node:
            if node.name in targets:
                x = node.input[0]
                if x not in done:
                    q = [f"{x}/fq_{k}" for k in ("q", "scale", "zp", "dq")]
                    nodes.append(helper.make_node("DynamicQuantizeLinear", [x], q[:3], name=f"{x}/fq_quant"))
                    nodes.append(helper.make_node("DequantizeLinear", q[:3], [q[3]], name=f"{x}/fq_dequant"))
                    done[x] = q[3]
                node.input[0] = done[x]
            nodes.append(node)
        del out.graph.node[:]
        out.graph.node.extend(nodes)
        onnx.save(out, str(target))
    elif method == "per-channel-head":
        quantize_dynamic(
            str(source), str(target), per_channel=True, nodes_to_exclude=head_matmuls(model), **dynamic
        )
    elif method == "per-channel-reduce-range":
        quantize_dynamic(str(source), str(target), per_channel=True, reduce_range=True, **dynamic)
    elif method == "per-channel-u8-weights":
        quantize_dynamic(str(source), str(target), per_channel=True, weight_type=QuantType.QUInt8)
    elif method.startswith("mix-"):
        # mix-ROLE: static quantization (QOperator, per-channel, percentile 99.99) for the MatMuls of
        # this role (attn: query/key/value/attention output; ffn: feed-forward), dynamic for the rest
        from onnxruntime.quantization import CalibrationDataReader, quantize_static

        class Reader(CalibrationDataReader):
            def __init__(self, batches):
                self.batches = iter(batches)

            def get_next(self):
                return next(self.batches, None)

        role = method.split("-", 1)[1]
        nodes = weight_matmuls(model)
        ffn = {n.name for n in nodes if matmul_role(model, n) in ("up", "down")}
        attn = {n.name for n in nodes if n.name not in ffn and "block_" in n.name}
        static = attn if role == "attn" else ffn
        options = static_method("static-qop-p99.99")
        first = target.with_suffix(".static.onnx")
        quantize_static(
            str(source),
            str(first),
            Reader(calibration_batches(predictor, calibration)),
            nodes_to_quantize=sorted(static),
            **options,
        )
        rest = [n.name for n in nodes if n.name not in static]
        quantize_dynamic(str(first), str(target), per_channel=True, nodes_to_quantize=rest, **dynamic)
    elif method.startswith("static-"):
        from onnxruntime.quantization import CalibrationDataReader, quantize_static

        class Reader(CalibrationDataReader):
            def __init__(self, batches):
                self.batches = iter(batches)

            def get_next(self):
                return next(self.batches, None)

        options = static_method(method)
        batches = calibration_batches(predictor, calibration)
        quantize_static(str(source), str(target), Reader(batches), **options)
    elif method.startswith("fallback-"):
        # fallback-K (ranked by quantizing one MatMul only) or fallback-but-K (all but one)
        mode = "but" if method.startswith("fallback-but-") else "only"
        k = int(method.rsplit("-", 1)[1])
        ranking = sensitivity_ranking(source, model, predictor, calibration[:200], mode)
        keep = [name for name, _ in ranking[:k]]
        quantize_dynamic(str(source), str(target), per_channel=True, nodes_to_exclude=keep, **dynamic)
    elif method.startswith("outlier-split-"):
        # outlier-split-R[-up|-down|-other][-topN][-fbK]: ratio R, only these MatMuls, at most N
        # channels per input, then the K MatMuls most sensitive (ranked on the split graph) in float32
        parts = method.split("-")[2:]
        ratio = float(parts[0])
        roles = tuple(p for p in parts[1:] if p in ("up", "down", "other")) or ("up", "down", "other")
        limit = next((int(p[3:]) for p in parts[1:] if p.startswith("top")), 16)
        keep = next((int(p[2:]) for p in parts[1:] if p.startswith("fb")), 0)
        if "vocab" in parts:  # calibrated on random words of the vocabulary instead of SST-2
            calibration = vocabulary_texts(predictor, len(calibration))
        maxima = activation_maxima(model, predictor, calibration)
        split, small = outlier_split(model, maxima, ratio, limit, roles)
        fp32 = target.with_suffix(".fp32.onnx")
        onnx.save(split, str(fp32))
        exclude = list(small)
        if "gptq" in parts:  # weights rounded GPTQ's way on onnxruntime's int8 grid
            from onnx import numpy_helper

            inits = {i.name: i for i in split.graph.initializer}
            nodes = [n for n in weight_matmuls(split) if n.name not in small]
            hessians = input_hessians(
                split, predictor, calibration, list(dict.fromkeys(n.input[0] for n in nodes))
            )
            for node in nodes:
                weight = numpy_helper.to_array(inits[node.input[1]])
                rounded = gptq_int8(weight, hessians[node.input[0]])
                inits[node.input[1]].CopyFrom(numpy_helper.from_array(rounded, node.input[1]))
            onnx.save(split, str(fp32))
        if "head" in parts:  # the pooler and classifier (one row per text, not per token) in float32
            exclude += head_matmuls(model)
        if keep:
            key = f"split-{ratio}-{'-'.join(roles)}-{limit}"
            ranking = sensitivity_ranking(fp32, split, predictor, calibration[:200], "only", key, small)
            exclude += [name for name, _ in ranking[:keep]]
        quantize_dynamic(str(fp32), str(target), per_channel=True, nodes_to_exclude=exclude, **dynamic)
    else:
        raise SystemExit(f"unknown method {method!r}; known: {', '.join(DEFAULT_METHODS)}")


def measure(predictor, session, texts: list[str], single: int) -> tuple[np.ndarray, float, float, float]:
    """Probabilities, batch texts/s (wall clock), one-text p50 in ms, and batch texts per CPU second
    of this process (all its threads; onnxruntime's threads do not spin here, so this counts the
    work done, and moves less than the wall clock when other processes share the cores)."""
    saved, predictor.model.session = predictor.model.session, session
    try:
        predictor.predict_proba(texts[:64], verbose=0)
        best = best_cpu = float("inf")
        for _ in range(3):
            start, cpu = time.perf_counter(), time.process_time()
            proba = predictor.predict_proba(texts, verbose=0)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        latencies = []
        for text in texts[:single]:
            start = time.perf_counter()
            predictor.predict(text)
            latencies.append(time.perf_counter() - start)
    finally:  # the float32 graph stays the predictor's (the calibration steps run it)
        predictor.model.session = saved
    return proba, len(texts) / best, 1000 * float(np.median(latencies)), len(texts) / best_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("predictor", type=Path, help="a predictor folder saved with onnx=True")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--texts", type=int, default=1000, help="SST-2 test sentences (default 1000)")
    parser.add_argument(
        "--calibration",
        type=int,
        default=300,
        help="SST-2 training sentences for the calibrated methods (SmoothQuant, static, fallback, "
        "outlier-split)",
    )
    parser.add_argument("--single", type=int, default=100, help="one-text calls for p50 (default 100)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="time every graph (float32 included) this many times, in turn, and keep each one's best "
        "(default 1; more on a busy machine)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime intra-op threads for every graph (default: easytx's, one per physical core); "
        "with 1, the texts per CPU-second move less than the wall clock when other processes share the cores",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's advice on the root logger

    import onnx
    import onnxruntime as ort

    import easytx
    from easytx import onnx_engine

    texts, gold = sst2.read_split("test", args.texts)
    calibration, _ = sst2.read_split("train", args.calibration)
    predictor = easytx.load_predictor(
        args.predictor, engine="onnx", batch_size=32, intra_op_threads=args.threads or None
    )
    classes = [str(c) for c in predictor.get_classes()]
    gold_index = np.array(
        [classes.index(sst2.CLASS_NAMES[y]) if sst2.CLASS_NAMES[y] in classes else y for y in gold]
    )
    source = args.predictor / "model.onnx"
    model = onnx.load(str(source))
    options = onnx_engine.session_options(intra_op_threads=args.threads or None)
    ref, ref_speed, ref_p50, ref_cpu = measure(predictor, predictor.model.session, texts, args.single)
    rows = [
        {
            "method": "float32",
            "agreement": 1.0,
            "max_diff": 0.0,
            "mean_diff": 0.0,
            "accuracy": float(np.mean(ref.argmax(1) == gold_index)),
            "texts_per_s": ref_speed,
            "texts_per_cpu_s": ref_cpu,
            "p50_ms": ref_p50,
            "mb": source.stat().st_size / 1e6,
        }
    ]
    sessions = [(rows[0], predictor.model.session)]
    with tempfile.TemporaryDirectory(prefix="int8-methods-") as tmp:
        for method in args.methods:
            target = Path(tmp) / f"{method}.onnx"
            try:
                quantize(method, source, target, model, predictor, calibration)
            except ImportError as exc:
                print(f"{method}: skipped ({exc})", file=sys.stderr)
                continue
            session = ort.InferenceSession(
                str(target), sess_options=options, providers=["CPUExecutionProvider"]
            )
            proba, speed, p50, cpu = measure(predictor, session, texts, args.single)
            diff = np.abs(proba - ref)
            rows.append(
                {
                    "method": method,
                    "agreement": float(np.mean(proba.argmax(1) == ref.argmax(1))),
                    "max_diff": float(diff.max()),
                    "mean_diff": float(diff.mean()),
                    "accuracy": float(np.mean(proba.argmax(1) == gold_index)),
                    "texts_per_s": speed,
                    "texts_per_cpu_s": cpu,
                    "p50_ms": p50,
                    "mb": target.stat().st_size / 1e6,
                }
            )
            sessions.append((rows[-1], session))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    for _ in range(args.rounds - 1):
        for row, session in sessions:
            _, speed, p50, cpu = measure(predictor, session, texts, args.single)
            row["texts_per_s"] = max(row["texts_per_s"], speed)
            row["texts_per_cpu_s"] = max(row["texts_per_cpu_s"], cpu)
            row["p50_ms"] = min(row["p50_ms"], p50)
    ref_speed, ref_p50, ref_cpu = rows[0]["texts_per_s"], rows[0]["p50_ms"], rows[0]["texts_per_cpu_s"]
    load = os.getloadavg()
    print(
        f"\n{args.texts} SST-2 test sentences, batch 32, {args.single} one-text calls, "
        f"best of {args.rounds} round(s), intra-op threads {args.threads or 'default'}; "
        f"predictor {args.predictor}; "
        f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs\n"
    )
    print(
        "| method | labels vs float32 | max prob change | mean prob change | test accuracy "
        "| batch texts/s | batch texts per CPU-s | one-text p50 | size |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {100 * r['agreement']:.1f}% | {r['max_diff']:.3f} | {r['mean_diff']:.4f} "
            f"| {r['accuracy']:.4f} | {r['texts_per_s']:.0f} ({r['texts_per_s'] / ref_speed:.2f}x) "
            f"| {r['texts_per_cpu_s']:.0f} ({r['texts_per_cpu_s'] / ref_cpu:.2f}x) "
            f"| {r['p50_ms']:.2f} ms ({r['p50_ms'] / ref_p50:.2f}x) | {r['mb']:.0f} MB |"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "loadavg": load}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
