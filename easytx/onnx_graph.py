"""Rewrites of exported ONNX graphs into fewer, standard operators (numpy and onnx only).

tf2onnx translates a Keras model operation by operation. What TensorFlow computes in a few fused
kernels reaches ONNX as long chains of small ones, and on a CPU the small ones cost more than the
matrix multiplications: on all-MiniLM-L6-v2 (batch 32, 32 tokens, int8 graph) the element-wise
``Mul``/``Add``/``Sub``/``Neg``/``Erf`` nodes took more time than every quantized multiplication
together. :func:`simplify` rewrites three such chains into fewer, standard operators:

* **layer normalization**: TensorFlow's ``moments`` and the arithmetic after them (two means, a
  squared difference, ``Sqrt``, ``Reciprocal``, then scale and shift: 12 or 13 nodes, as Keras 3
  and tf-keras write them) becomes one ``LayerNormalization`` (opset >= 17);
* **exact GELU**: TensorFlow's ``0.5 * x * erfc(-x / sqrt(2))`` becomes the form
  ``0.5 * x * (1 + erf(x / sqrt(2)))``, which onnxruntime fuses into one ``Gelu`` node (with the
  bias before it, ``BiasGelu``) when it loads the graph;
* **dense-layer output shapes**: a dense layer on a token tensor reaches ONNX as TensorFlow's
  ``Tensordot``, ``Reshape`` to two dimensions, ``MatMul``, ``Reshape`` back to a shape computed
  from ``Shape`` of the layer's input (five to seven small nodes, for every layer); the shape
  becomes ``(batch, tokens)`` of ``input_ids`` followed by the layer's width, computed once per
  width for the whole graph.

onnxruntime then also fuses each residual addition with the layer normalization after it
(``SkipLayerNormalization``). Feeding the three-dimensional tensor to ``MatMul`` directly, without
the two reshapes, was measured too and left out: it made the int8 graph 4% slower.

Each rewrite matches its pattern exactly (operators, constants, and that no intermediate value is
used elsewhere) and leaves anything else alone, so a graph it does not recognise comes out
unchanged. :func:`simplify_file` also runs the graph before and after on the same inputs and keeps
the rewritten graph only if every output agrees.
"""

from __future__ import annotations

import logging
import math
import os
from collections import defaultdict
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["simplify", "simplify_file", "validation_feeds"]

#: largest output difference :func:`simplify_file` accepts (absolute, plus the same relative)
TOLERANCE = 1e-4


class _Graph:
    """Producers, consumers and constants of an ONNX graph, for pattern matching."""

    def __init__(self, model: Any):
        from onnx import numpy_helper

        self.model = model
        self.graph = model.graph
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, list] = defaultdict(list)
        for node in self.graph.node:
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                self.consumers[name].append(node)
        self.outputs = {o.name for o in self.graph.output}
        self.constants = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)

    def only_use(self, name: str, node: Any) -> bool:
        """``name`` feeds ``node`` and nothing else (and is not a graph output)."""
        users = self.consumers.get(name, [])
        return name not in self.outputs and len(users) > 0 and all(u is node for u in users)

    def single_consumer(self, name: str, op_type: str) -> Any:
        users = self.consumers.get(name, [])
        if name in self.outputs or len(users) != 1 or users[0].op_type != op_type:
            return None
        return users[0]

    def made_by(self, name: str, op_type: str) -> Any:
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def scalar(self, name: str) -> float | None:
        value = self.constants.get(name)
        if value is None or value.size != 1:
            return None
        return float(value.reshape(()))

    def other_input(self, node: Any, name: str) -> str | None:
        """The input of a two-input ``node`` that is not ``name``."""
        if len(node.input) != 2 or name not in node.input:
            return None
        return node.input[1] if node.input[0] == name else node.input[0]


def _attribute(node: Any, name: str, default: Any = None) -> Any:
    from onnx import helper

    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def _opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _is_last_axis_mean(g: _Graph, node: Any, ranks: dict[str, int]) -> bool:
    """``node`` averages its input over the last axis, keeping it (``GlobalAveragePool`` on a
    rank-3 tensor, or ``ReduceMean(axes=[-1], keepdims=1)``)."""
    if node is None:
        return False
    rank = ranks.get(node.input[0])
    if node.op_type == "GlobalAveragePool":  # averages every axis after the first two
        return rank == 3
    if node.op_type != "ReduceMean" or _attribute(node, "keepdims", 1) != 1:
        return False
    axes = _attribute(node, "axes")
    if axes is None and len(node.input) > 1:
        value = g.constants.get(node.input[1])
        axes = None if value is None else value.reshape(-1).tolist()
    return (
        axes is not None and len(axes) == 1 and (axes[0] == -1 or (rank is not None and axes[0] == rank - 1))
    )


def _ranks(model: Any) -> dict[str, int]:
    """Rank of every tensor whose rank onnx's shape inference knows."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception as exc:  # noqa: BLE001 - a graph onnx cannot infer is left with unknown ranks
        logger.debug("ONNX shape inference failed (%s); ranks unknown", exc)
        return {}
    ranks = {}
    for info in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        tensor = info.type.tensor_type
        if tensor.HasField("shape"):
            ranks[info.name] = len(tensor.shape.dim)
    return ranks


def _fuse_layer_norms(model: Any, ranks: dict[str, int]) -> int:
    """TensorFlow's moments-based layer normalization -> ``LayerNormalization``."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = _Graph(model)
    replaced: dict[str, Any] = {}
    count = 0
    for recip in list(g.graph.node):
        if recip.op_type != "Reciprocal":
            continue
        sqrt = g.made_by(recip.input[0], "Sqrt")
        add_eps = sqrt and g.made_by(sqrt.input[0], "Add")
        if not add_eps:
            continue
        eps = next((g.scalar(i) for i in add_eps.input if g.scalar(i) is not None), None)
        variance = next((g.producer.get(i) for i in add_eps.input if g.scalar(i) is None), None)
        if eps is None or not _is_last_axis_mean(g, variance, ranks):
            continue
        square = g.made_by(variance.input[0], "Mul")
        if square is None or square.input[0] != square.input[1]:
            continue
        diff = g.made_by(square.input[0], "Sub")
        if diff is None:
            continue
        x, mean_name = diff.input
        mean = g.producer.get(mean_name)
        if not _is_last_axis_mean(g, mean, ranks) or mean.input[0] != x:
            continue
        # scale: Mul(reciprocal, gamma), or the reciprocal itself (LayerNormalization(scale=False))
        scaled, gamma, gamma_mul = recip.output[0], None, None
        users = g.consumers.get(scaled, [])
        if len(users) == 1 and users[0].op_type == "Mul" and scaled not in g.outputs:
            other = g.other_input(users[0], scaled)
            if other in g.constants:
                scaled, gamma, gamma_mul = users[0].output[0], g.constants[other], users[0]
        users = g.consumers.get(scaled, [])
        if len(users) != 2 or any(u.op_type != "Mul" for u in users):
            continue
        by_input = {g.other_input(u, scaled): u for u in users}
        times_x = by_input.get(x)
        if times_x is None or len(by_input) != 2:
            continue
        ((other, times_mean),) = ((i, u) for i, u in by_input.items() if i != x)
        neg = g.made_by(other, "Neg")
        if neg is not None and neg.input[0] == mean_name:
            # Keras 3: x * scale + (-mean * scale [+ beta])
            mean_user, shifted, beta = neg, times_mean.output[0], None
            add = g.single_consumer(shifted, "Add")
            if add is not None and g.other_input(add, shifted) in g.constants:
                shifted, beta = add.output[0], g.constants[g.other_input(add, shifted)]
            private = [(neg.output[0], times_mean)]
        elif other == mean_name:
            # tf-keras (tf.nn.batch_normalization): x * scale + (beta - mean * scale)
            mean_user = times_mean
            sub = g.single_consumer(times_mean.output[0], "Sub")
            if sub is None or sub.input[1] != times_mean.output[0] or sub.input[0] not in g.constants:
                continue
            shifted, beta, private = sub.output[0], g.constants[sub.input[0]], []
        else:
            continue
        final = g.single_consumer(shifted, "Add")
        if final is None or g.other_input(final, shifted) != times_x.output[0]:
            continue
        if not all(
            g.only_use(name, user)
            for name, user in [
                (diff.output[0], square),
                (square.output[0], variance),
                (variance.output[0], add_eps),
                (add_eps.output[0], sqrt),
                (sqrt.output[0], recip),
                (times_x.output[0], final),
                (recip.output[0], gamma_mul),
                *private,
            ]
            if user is not None
        ):
            continue
        mean_users = {u.output[0] for u in g.consumers[mean_name]}
        if mean_name in g.outputs or mean_users != {diff.output[0], mean_user.output[0]}:
            continue
        width = None
        for value in (gamma, beta):
            if value is not None:
                if value.ndim == 0 or any(d != 1 for d in value.shape[:-1]):
                    width = -1
                    break
                width = value.shape[-1] if width in (None, value.shape[-1]) else -1
        if width is None or width < 0:  # neither scale nor shift: the width is unknown here
            continue
        dtype = (gamma if gamma is not None else beta).dtype
        scale = np.ones(width, dtype) if gamma is None else gamma.reshape(width)
        bias = np.zeros(width, dtype) if beta is None else beta.reshape(width)
        name = f"{final.name or final.output[0]}/layer_norm"
        g.graph.initializer.extend(
            [numpy_helper.from_array(scale, f"{name}/scale"), numpy_helper.from_array(bias, f"{name}/bias")]
        )
        replaced[final.output[0]] = helper.make_node(
            "LayerNormalization",
            [x, f"{name}/scale", f"{name}/bias"],
            [final.output[0]],
            name=name,
            axis=-1,
            epsilon=eps,
        )
        count += 1
    _replace_nodes(model, replaced)
    return count


def _fuse_gelus(model: Any) -> int:
    """``0.5 * x * (1 - erf(-x * 0.7071))`` (TensorFlow's exact GELU through ``erfc``) ->
    ``(x * (erf(x / sqrt 2) + 1)) * 0.5``, the form onnxruntime fuses into ``Gelu``."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = _Graph(model)
    replaced: dict[str, Any] = {}
    count = 0
    for erf in list(g.graph.node):
        if erf.op_type != "Erf":
            continue
        scale = g.made_by(erf.input[0], "Mul")
        if scale is None:
            continue
        neg_in = next((i for i in scale.input if g.scalar(i) is None), None)
        factor = next((g.scalar(i) for i in scale.input if g.scalar(i) is not None), None)
        neg = neg_in and g.made_by(neg_in, "Neg")
        if neg is None or factor is None or not math.isclose(factor, 1 / math.sqrt(2), rel_tol=1e-6):
            continue
        x = neg.input[0]
        one_minus = g.single_consumer(erf.output[0], "Sub")
        if one_minus is None or one_minus.input[1] != erf.output[0] or g.scalar(one_minus.input[0]) != 1.0:
            continue
        final = g.single_consumer(one_minus.output[0], "Mul")
        half = final and g.producer.get(g.other_input(final, one_minus.output[0]) or "")
        if half is None or half.op_type != "Mul" or x not in half.input:
            continue
        if g.scalar(g.other_input(half, x) or "") != 0.5:
            continue
        if not (
            g.only_use(neg.output[0], scale)
            and g.only_use(scale.output[0], erf)
            and g.only_use(half.output[0], final)
        ):
            continue
        name = f"{final.name or final.output[0]}/gelu"
        dtype = g.constants[next(i for i in half.input if i != x)].dtype
        g.graph.initializer.extend(
            [
                numpy_helper.from_array(np.array(math.sqrt(2), dtype), f"{name}/sqrt2"),
                numpy_helper.from_array(np.array(1, dtype), f"{name}/one"),
                numpy_helper.from_array(np.array(0.5, dtype), f"{name}/half"),
            ]
        )
        replaced[final.output[0]] = [
            helper.make_node("Div", [x, f"{name}/sqrt2"], [f"{name}/scaled"], name=f"{name}/div"),
            helper.make_node("Erf", [f"{name}/scaled"], [f"{name}/erf"], name=f"{name}/erf"),
            helper.make_node("Add", [f"{name}/erf", f"{name}/one"], [f"{name}/one_plus"], name=f"{name}/add"),
            helper.make_node("Mul", [x, f"{name}/one_plus"], [f"{name}/times_x"], name=f"{name}/mul"),
            helper.make_node(
                "Mul", [f"{name}/times_x", f"{name}/half"], [final.output[0]], name=f"{name}/half"
            ),
        ]
        count += 1
    _replace_nodes(model, replaced)
    return count


_SHAPE_OPS = {"Shape", "Cast", "Gather", "Slice", "Squeeze", "Unsqueeze", "Concat", "Identity"}


def _from_shape_of(g: _Graph, name: str, x: str) -> bool:
    """``name`` is computed from ``Shape(x)`` (and constants), through shape arithmetic alone."""
    seen, todo, found = set(), [name], False
    while todo:
        current = todo.pop()
        if current in seen or current in g.constants:
            continue
        seen.add(current)
        node = g.producer.get(current)
        if node is None or node.op_type not in _SHAPE_OPS:
            return False
        if node.op_type == "Shape":
            if node.input[0] != x:
                return False
            found = True
            continue
        todo.extend(i for i in node.input if i)
    return found


def _share_tensordot_shapes(model: Any, ranks: dict[str, int]) -> int:
    """Each dense layer on a token tensor ``x`` of shape (batch, tokens, K) reaches ONNX as
    ``Reshape(x, [-1, K]) -> MatMul -> Reshape(.., concat(shape(x)[:2], [N]))``, the target shape
    computed from ``Shape(x)`` again for every layer (five to seven small nodes each). The
    (batch, tokens) of every token tensor are those of ``input_ids``: the targets become
    ``concat(shape(input_ids), [N])``, computed once per ``N``."""
    import numpy as np
    from onnx import helper, numpy_helper

    if ranks.get("input_ids") != 2:
        return 0
    g = _Graph(model)
    shared: dict[tuple, str] = {}
    added: list = []
    count = 0
    for restore in list(g.graph.node):
        if restore.op_type != "Reshape" or restore.input[1] in g.constants:
            continue
        matmul = g.made_by(restore.input[0], "MatMul")
        flatten = matmul and g.made_by(matmul.input[0], "Reshape")
        if flatten is None or matmul.input[1] not in g.constants or ranks.get(flatten.input[0]) != 3:
            continue
        target = g.constants.get(flatten.input[1])
        if target is None or target.reshape(-1).tolist()[:1] != [-1] or target.size != 2:
            continue
        shape = restore.input[1]
        while g.made_by(shape, "Cast") or g.made_by(shape, "Identity"):
            shape = g.producer[shape].input[0]
        concat = g.made_by(shape, "Concat")
        if concat is None or len(concat.input) < 2 or ranks.get(restore.output[0]) is None:
            continue
        tail = []
        for name in concat.input[1:]:
            while name not in g.constants and (g.made_by(name, "Cast") or g.made_by(name, "Identity")):
                name = g.producer[name].input[0]
            tail = (
                None
                if name not in g.constants or tail is None
                else tail + g.constants[name].reshape(-1).tolist()
            )
        lead = concat.input[0]
        if not tail or not _from_shape_of(g, lead, flatten.input[0]):
            continue
        if ranks[restore.output[0]] != 2 + len(tail):  # the lead is (batch, tokens)
            continue
        key = tuple(int(v) for v in tail)
        if key not in shared:
            name = "easytx/token_shape/" + "x".join(map(str, key))
            if not shared:
                added.append(helper.make_node("Shape", ["input_ids"], ["easytx/token_shape"]))
            g.graph.initializer.append(numpy_helper.from_array(np.array(key, np.int64), f"{name}/tail"))
            added.append(helper.make_node("Concat", ["easytx/token_shape", f"{name}/tail"], [name], axis=0))
            shared[key] = name
        restore.input[1] = shared[key]
        count += 1
    if count:
        nodes = added + list(model.graph.node)
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        _drop_dead(model)
    return count


def _replace_nodes(model: Any, replaced: dict[str, Any]) -> None:
    """Put ``replaced[name]`` (a node or a list) where the node whose first output is ``name``
    was, then drop what no longer feeds an output."""
    if not replaced:
        return
    nodes = []
    for node in model.graph.node:
        new = replaced.get(node.output[0], node) if node.output else node
        nodes.extend(new if isinstance(new, list) else [new])
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    _drop_dead(model)


def _drop_dead(model: Any) -> None:
    """Remove nodes whose outputs nothing uses, then unused initializers."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
            for attr in node.attribute:  # subgraphs (If, Loop, Scan) read outer values too
                for sub in [attr.g, *attr.graphs]:
                    for inner in sub.node:
                        needed.update(inner.input)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


#: the rewrites :func:`simplify` applies, in order
PASSES = ("layer_norms", "gelus", "tensordot_shapes")


def simplify(model: Any, *, passes: tuple[str, ...] = PASSES) -> tuple[Any, dict]:
    """A rewritten copy of the ONNX ``model`` (see the module's docstring) and what changed.

    ``passes`` picks the rewrites (a subset of :data:`PASSES`), for measuring them one by one.

    Returns
    -------
    model : onnx.ModelProto
    counts : dict
        ``{"layer_norms": n, "gelus": n, "tensordot_shapes": n, "nodes_before": n, "nodes_after": n}``.
    """
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    before = len(out.graph.node)
    unknown = set(passes) - set(PASSES)
    if unknown:
        raise ValueError(f"`passes` must be among {PASSES}. Received: {sorted(unknown)}")
    # one shape inference serves every pass: a rewrite keeps the names (and shapes) of the values
    # that outlive it, and removes the others
    ranks = _ranks(out)
    counts = dict.fromkeys(PASSES, 0)
    if "layer_norms" in passes and _opset(out) >= 17:  # LayerNormalization is opset 17's
        counts["layer_norms"] = _fuse_layer_norms(out, ranks)
    if "gelus" in passes:
        counts["gelus"] = _fuse_gelus(out)
    if "tensordot_shapes" in passes:
        counts["tensordot_shapes"] = _share_tensordot_shapes(out, ranks)
    counts.update(nodes_before=before, nodes_after=len(out.graph.node))
    return out, counts


def validation_feeds(input_names: list[str], *, vocab_size: int, seed: int = 0) -> list[dict] | None:
    """Two batches of random token ids (shapes 2x7 and 3x19, with padding) to run a text model's
    graph on: the token inputs ``input_ids``, ``attention_mask`` and ``token_type_ids`` as int32.
    ``None`` when the graph takes other inputs."""
    import numpy as np

    if not input_names or any(
        n not in ("input_ids", "attention_mask", "token_type_ids") for n in input_names
    ):
        return None

    rng = np.random.default_rng(seed)
    feeds = []
    for batch, width in ((2, 7), (3, 19)):
        lengths = rng.integers(2, width + 1, batch)
        lengths[0] = width
        mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int32)
        values = {
            "input_ids": rng.integers(0, max(1, min(vocab_size, 1000)), (batch, width)).astype(np.int32)
            * mask,
            "attention_mask": mask,
            "token_type_ids": np.zeros((batch, width), np.int32),
        }
        feeds.append({name: values[name] for name in input_names})
    return feeds


def _run(model: Any, feeds: list[dict]) -> list:
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    types = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32}
    wanted = {i.name: types.get(i.type) for i in session.get_inputs()}
    return [session.run(None, {k: np.asarray(f[k], dtype=t) for k, t in wanted.items()}) for f in feeds]


def simplify_file(path: str | os.PathLike, feeds: list[dict] | None) -> dict:
    """Rewrite the ONNX graph at ``path`` in place with :func:`simplify`, if the rewritten graph
    gives the same outputs on ``feeds`` (within :data:`TOLERANCE`); otherwise leave the file as
    it is, with a warning.

    Returns
    -------
    dict
        :func:`simplify`'s counts and ``"checked_max_diff"``; ``{}`` when nothing was rewritten
        (no pattern found, no ``feeds`` to check with, or onnxruntime missing).
    """
    import numpy as np
    import onnx

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        logger.info("The ONNX graph is kept as tf2onnx wrote it: checking a rewrite needs onnxruntime")
        return {}
    model = onnx.load(str(path))
    simplified, counts = simplify(model)
    if counts["nodes_after"] == counts["nodes_before"] or not feeds:
        return {}
    worst = 0.0
    for before, after in zip(_run(model, feeds), _run(simplified, feeds)):
        for a, b in zip(before, after):
            diff = np.abs(a - b) if a.shape == b.shape else None
            if diff is None or (diff > TOLERANCE * (1 + np.abs(a))).any():
                worst = math.inf
            else:
                worst = max(worst, float(diff.max(initial=0.0)))
    if not math.isfinite(worst):
        logger.warning(
            "The simplified ONNX graph did not give the same outputs as tf2onnx's; easytx keeps "
            "tf2onnx's graph (%s). Please report this with the model's name.",
            counts,
        )
        return {}
    onnx.save(simplified, str(path))
    counts["checked_max_diff"] = worst
    logger.info(
        "ONNX graph simplified: %d nodes instead of %d (%d layer normalizations, %d GELUs)",
        counts["nodes_after"],
        counts["nodes_before"],
        counts["layer_norms"],
        counts["gelus"],
    )
    return counts
