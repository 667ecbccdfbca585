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
  the ``onnx_ir`` package.
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
    """MatMul nodes whose second input is a constant 2-D weight."""
    inits = {i.name: i for i in model.graph.initializer}
    return [
        n
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2
    ]


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
    elif method.startswith("blockwise-"):
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        block = int(method.split("-", 1)[1])
        config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True, accuracy_level=4, bits=8)
        quantizer = MatMulNBitsQuantizer(
            onnx.load(str(source)),
            bits=8,
            block_size=block,
            is_symmetric=True,
            accuracy_level=4,
            algo_config=config,
        )
        quantizer.process()
        quantizer.model.save_model_to_file(str(target), use_external_data_format=False)
    else:
        raise SystemExit(f"unknown method {method!r}; known: {', '.join(DEFAULT_METHODS)}")


def measure(predictor, session, texts: list[str], single: int) -> tuple[np.ndarray, float, float]:
    predictor.model.session = session
    predictor.predict_proba(texts[:64], verbose=0)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        proba = predictor.predict_proba(texts, verbose=0)
        best = min(best, time.perf_counter() - start)
    latencies = []
    for text in texts[:single]:
        start = time.perf_counter()
        predictor.predict(text)
        latencies.append(time.perf_counter() - start)
    return proba, len(texts) / best, 1000 * float(np.median(latencies))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("predictor", type=Path, help="a predictor folder saved with onnx=True")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--texts", type=int, default=1000, help="SST-2 test sentences (default 1000)")
    parser.add_argument(
        "--calibration", type=int, default=300, help="SST-2 training sentences for SmoothQuant"
    )
    parser.add_argument("--single", type=int, default=100, help="one-text calls for p50 (default 100)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's advice on the root logger

    import onnx
    import onnxruntime as ort

    import easytx
    from easytx import onnx_engine

    texts, gold = sst2.read_split("test", args.texts)
    calibration, _ = sst2.read_split("train", args.calibration)
    predictor = easytx.load_predictor(args.predictor, engine="onnx", batch_size=32)
    classes = [str(c) for c in predictor.get_classes()]
    gold_index = np.array(
        [classes.index(sst2.CLASS_NAMES[y]) if sst2.CLASS_NAMES[y] in classes else y for y in gold]
    )
    source = args.predictor / "model.onnx"
    model = onnx.load(str(source))
    options = onnx_engine.session_options()
    ref, ref_speed, ref_p50 = measure(predictor, predictor.model.session, texts, args.single)
    rows = [
        {
            "method": "float32",
            "agreement": 1.0,
            "max_diff": 0.0,
            "mean_diff": 0.0,
            "accuracy": float(np.mean(ref.argmax(1) == gold_index)),
            "texts_per_s": ref_speed,
            "p50_ms": ref_p50,
            "mb": source.stat().st_size / 1e6,
        }
    ]
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
            proba, speed, p50 = measure(predictor, session, texts, args.single)
            diff = np.abs(proba - ref)
            rows.append(
                {
                    "method": method,
                    "agreement": float(np.mean(proba.argmax(1) == ref.argmax(1))),
                    "max_diff": float(diff.max()),
                    "mean_diff": float(diff.mean()),
                    "accuracy": float(np.mean(proba.argmax(1) == gold_index)),
                    "texts_per_s": speed,
                    "p50_ms": p50,
                    "mb": target.stat().st_size / 1e6,
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    load = os.getloadavg()
    print(
        f"\n{args.texts} SST-2 test sentences, batch 32, {args.single} one-text calls; "
        f"predictor {args.predictor}; "
        f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs\n"
    )
    print(
        "| method | labels vs float32 | max prob change | mean prob change | test accuracy "
        "| batch texts/s | one-text p50 | size |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {100 * r['agreement']:.1f}% | {r['max_diff']:.3f} | {r['mean_diff']:.4f} "
            f"| {r['accuracy']:.4f} | {r['texts_per_s']:.0f} ({r['texts_per_s'] / ref_speed:.2f}x) "
            f"| {r['p50_ms']:.2f} ms ({r['p50_ms'] / ref_p50:.2f}x) | {r['mb']:.0f} MB |"
        )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "loadavg": load}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
