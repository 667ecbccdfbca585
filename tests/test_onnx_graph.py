"""``easytx.onnx_graph``: the rewrites of exported graphs compute the same function in fewer nodes,
and leave alone what they do not recognise exactly.

The graphs here are built by hand in the shapes tf2onnx writes for a Keras 3 encoder (layer
normalization through ``moments``, exact GELU through ``erfc``, dense layers through
``Tensordot``); ``test_onnx_engine.py`` and ``test_export.py`` check the rewrite on real exported
models.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from easytx import onnx_graph

WIDTH, OUT = 4, 3


def _model(
    *, opset: int = 17, extra_outputs: tuple[str, ...] = (), flavour: str = "keras3"
) -> onnx.ModelProto:
    """x (batch, tokens, 4) -> layer norm -> exact GELU -> dense (4 -> 3), as tf2onnx writes them
    (the layer norm's scale and shift as Keras 3 or as tf-keras computes them)."""
    rng = np.random.default_rng(0)
    init = [
        numpy_helper.from_array(np.array(1e-3, np.float32), "eps"),
        numpy_helper.from_array(rng.normal(1, 0.1, (1, 1, WIDTH)).astype(np.float32), "gamma"),
        numpy_helper.from_array(rng.normal(0, 0.1, (1, 1, WIDTH)).astype(np.float32), "beta"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(0.70710677, np.float32), "inv_sqrt2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([-1, WIDTH], np.int64), "flat"),
        numpy_helper.from_array(rng.normal(0, 1, (WIDTH, OUT)).astype(np.float32), "kernel"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([OUT], np.int64), "out_width"),
    ]
    n = helper.make_node
    nodes = [
        # layer normalization (TensorFlow's moments, as tf2onnx writes it)
        n("GlobalAveragePool", ["x"], ["mean"]),
        n("Sub", ["x", "mean"], ["diff"]),
        n("Mul", ["diff", "diff"], ["squared"]),
        n("GlobalAveragePool", ["squared"], ["variance"]),
        n("Add", ["variance", "eps"], ["var_eps"]),
        n("Sqrt", ["var_eps"], ["std"]),
        n("Reciprocal", ["std"], ["inv_std"]),
        n("Mul", ["inv_std", "gamma"], ["scale"]),
        n("Mul", ["x", "scale"], ["x_scaled"]),
    ]
    if flavour == "keras3":  # x * scale + (-mean * scale + beta)
        nodes += [
            n("Neg", ["mean"], ["neg_mean"]),
            n("Mul", ["neg_mean", "scale"], ["mean_scaled"]),
            n("Add", ["mean_scaled", "beta"], ["shift"]),
        ]
    else:  # tf-keras, tf.nn.batch_normalization: x * scale + (beta - mean * scale)
        nodes += [n("Mul", ["mean", "scale"], ["mean_scaled"]), n("Sub", ["beta", "mean_scaled"], ["shift"])]
    nodes += [
        n("Add", ["x_scaled", "shift"], ["normed"]),
        # exact GELU through erfc: 0.5 * x * (1 - erf(-x / sqrt 2))
        n("Mul", ["half", "normed"], ["half_x"]),
        n("Neg", ["normed"], ["neg_x"]),
        n("Mul", ["neg_x", "inv_sqrt2"], ["erf_in"]),
        n("Erf", ["erf_in"], ["erf"]),
        n("Sub", ["one", "erf"], ["erfc"]),
        n("Mul", ["half_x", "erfc"], ["gelu"]),
        # a dense layer through Tensordot
        n("Reshape", ["gelu", "flat"], ["flat_x"]),
        n("MatMul", ["flat_x", "kernel"], ["flat_y"]),
        n("Shape", ["gelu"], ["shape"]),
        n("Slice", ["shape", "zero", "two", "zero"], ["leading"]),
        n("Concat", ["leading", "out_width"], ["target"], axis=0),
        n("Reshape", ["flat_y", "target"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "tokens", OUT])]
    outputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in extra_outputs]
    graph = helper.make_graph(
        nodes,
        "tf2onnx_like",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", WIDTH])],
        outputs,
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def _x(batch: int = 3, tokens: int = 5) -> np.ndarray:
    return np.random.default_rng(1).normal(0, 3, (batch, tokens, WIDTH)).astype(np.float32)


@pytest.mark.parametrize("flavour,nodes", [("keras3", 25), ("tf_keras", 24)])
def test_the_chains_become_standard_operators_computing_the_same(flavour, nodes):
    model = _model(flavour=flavour)
    simplified, counts = onnx_graph.simplify(model)
    assert counts == {
        "layer_norms": 1,
        "gelus": 1,
        "tensordot_shapes": 0,
        "nodes_before": nodes,
        "nodes_after": 12,
    }
    assert [node.op_type for node in simplified.graph.node] == [
        "LayerNormalization",
        "Div",
        "Erf",
        "Add",
        "Mul",
        "Mul",
        "Reshape",
        "MatMul",
        "Shape",
        "Slice",
        "Concat",
        "Reshape",
    ]
    norm = simplified.graph.node[0]
    assert {a.name: helper.get_attribute_value(a) for a in norm.attribute} == pytest.approx(
        {"axis": -1, "epsilon": 1e-3}
    )
    names = {i.name for i in simplified.graph.initializer}
    assert "kernel" in names and not names & {"eps", "gamma", "beta", "inv_sqrt2"}  # dead ones dropped
    onnx.checker.check_model(simplified)
    for x in (_x(), _x(1, 1), _x(2, 17)):
        np.testing.assert_allclose(_run(simplified, x)[0], _run(model, x)[0], rtol=1e-5, atol=1e-5)
    assert len(model.graph.node) == nodes  # the input model is not modified


def test_a_value_used_elsewhere_keeps_its_chain():
    """The mean of the layer norm is also an output: fusing would lose it, so the chain stays."""
    model = _model(extra_outputs=("mean",))
    simplified, counts = onnx_graph.simplify(model)
    assert counts["layer_norms"] == 0 and counts["gelus"] == 1
    assert "LayerNormalization" not in {node.op_type for node in simplified.graph.node}
    x = _x()
    for a, b in zip(_run(simplified, x), _run(model, x)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_layer_norm_needs_opset_17_the_gelu_does_not():
    simplified, counts = onnx_graph.simplify(_model(opset=16))
    assert (counts["layer_norms"], counts["gelus"]) == (0, 1)
    assert "LayerNormalization" not in {node.op_type for node in simplified.graph.node}


def test_passes_one_by_one_and_unknown_ones():
    _, counts = onnx_graph.simplify(_model(), passes=("gelus",))
    assert (counts["layer_norms"], counts["gelus"]) == (0, 1)
    with pytest.raises(ValueError, match="passes"):
        onnx_graph.simplify(_model(), passes=("fold_everything",))


def _dense_model() -> onnx.ModelProto:
    """input_ids -> embedding -> two dense layers through Tensordot, each computing its output
    shape from Shape() of its own input."""
    rng = np.random.default_rng(0)
    init = [
        numpy_helper.from_array(rng.normal(0, 1, (10, WIDTH)).astype(np.float32), "embedding"),
        numpy_helper.from_array(rng.normal(0, 1, (WIDTH, OUT)).astype(np.float32), "kernel_1"),
        numpy_helper.from_array(rng.normal(0, 1, (OUT, OUT)).astype(np.float32), "kernel_2"),
        numpy_helper.from_array(np.array([-1, WIDTH], np.int64), "flat_1"),
        numpy_helper.from_array(np.array([-1, OUT], np.int64), "flat_2"),
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([2], np.int64), "two"),
        numpy_helper.from_array(np.array([OUT], np.int64), "out_width"),
    ]
    n = helper.make_node
    nodes = [n("Gather", ["embedding", "input_ids"], ["x0"])]
    for i, (x, y) in enumerate([("x0", "x1"), ("x1", "y")], start=1):
        nodes += [
            n("Reshape", [x, f"flat_{i}"], [f"flat_x{i}"]),
            n("MatMul", [f"flat_x{i}", f"kernel_{i}"], [f"flat_y{i}"]),
            n("Shape", [x], [f"shape{i}"]),
            n("Slice", [f"shape{i}", "zero", "two", "zero"], [f"lead{i}"]),
            n("Concat", [f"lead{i}", "out_width"], [f"target{i}"], axis=0),
            n("Reshape", [f"flat_y{i}", f"target{i}"], [y]),
        ]
    graph = helper.make_graph(
        nodes,
        "dense",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "tokens"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "tokens", OUT])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_dense_layers_share_one_output_shape_computed_from_the_token_ids():
    model = _dense_model()
    simplified, counts = onnx_graph.simplify(model)
    assert counts["tensordot_shapes"] == 2
    assert (counts["nodes_before"], counts["nodes_after"]) == (13, 9)
    ops = [node.op_type for node in simplified.graph.node]
    assert ops.count("Shape") == 1 and ops.count("Concat") == 1 and "Slice" not in ops
    session = {
        name: ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        for name, m in (("before", model), ("after", simplified))
    }
    for shape in ((2, 5), (1, 1), (3, 17)):
        ids = np.random.default_rng(2).integers(0, 10, shape).astype(np.int32)
        before, after = (session[k].run(None, {"input_ids": ids})[0] for k in ("before", "after"))
        assert after.shape == shape + (OUT,)
        np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)


def test_a_shape_not_computed_from_the_layer_input_is_left_alone():
    model = _dense_model()
    model.graph.initializer.append(numpy_helper.from_array(np.array([2, 5], np.int64), "fixed"))
    for node in model.graph.node:
        if node.op_type == "Concat":
            node.input[0] = "fixed"  # a constant (batch, tokens): not Shape(x)
    _, counts = onnx_graph.simplify(model)
    assert counts["tensordot_shapes"] == 0


def test_simplify_file_rewrites_in_place_after_checking(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(_model(), str(path))
    counts = onnx_graph.simplify_file(path, [{"x": _x()}, {"x": _x(2, 9)}])
    assert counts["nodes_after"] == 12 and counts["checked_max_diff"] < 1e-4
    assert len(onnx.load(str(path)).graph.node) == 12
    assert onnx_graph.simplify_file(path, [{"x": _x()}]) == {}  # nothing left to rewrite


def test_a_rewrite_that_changes_the_outputs_is_not_kept(tmp_path, monkeypatch, caplog):
    path = tmp_path / "model.onnx"
    onnx.save(_model(), str(path))
    before = path.read_bytes()
    real = onnx_graph.simplify

    def wrong(model, **options):  # a faulty rewrite: the layer norm's epsilon changed
        out, counts = real(model, **options)
        for attr in out.graph.node[0].attribute:
            if attr.name == "epsilon":
                attr.f = 10.0
        return out, counts

    monkeypatch.setattr(onnx_graph, "simplify", wrong)
    with caplog.at_level(logging.WARNING, logger="easytx.onnx_graph"):
        assert onnx_graph.simplify_file(path, [{"x": _x()}]) == {}
    assert path.read_bytes() == before
    assert "keeps tf2onnx's graph" in caplog.text


def test_without_inputs_to_check_with_nothing_is_rewritten(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(_model(), str(path))
    before = path.read_bytes()
    assert onnx_graph.simplify_file(path, None) == {}
    assert path.read_bytes() == before


def test_validation_feeds():
    feeds = onnx_graph.validation_feeds(["input_ids", "attention_mask"], vocab_size=50)
    assert [f["input_ids"].shape for f in feeds] == [(2, 7), (3, 19)]
    for feed in feeds:
        assert feed["input_ids"].dtype == np.int32 and feed["input_ids"].max() < 50
        assert (feed["input_ids"][feed["attention_mask"] == 0] == 0).all()  # padding is id 0
        assert feed["attention_mask"][0].all()  # the first row is full width
    assert (feeds[1]["attention_mask"] == 0).any()
    assert onnx_graph.validation_feeds(["input_ids", "pixel_values"], vocab_size=50) is None
