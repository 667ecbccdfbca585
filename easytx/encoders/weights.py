"""Load hub checkpoints into our Keras 3 encoders and save them back in the hub's PyTorch layout.

Weights are read with :mod:`safetensors.numpy` and :mod:`h5py` only (no torch, no transformers):

* PyTorch-layout ``model.safetensors`` (metadata ``format`` "pt" or absent), single or sharded
  (``model.safetensors.index.json``), names with or without the base prefix (``bert.``, ...);
* transformers' TF-layout ``model.safetensors`` (metadata ``format`` "tf") and ``tf_model.h5``: their
  names (``bert/encoder/layer_._0/attention/self/query/kernel:0``) are mapped to PyTorch names.

Every source is first turned into a PyTorch-layout state dict ``{name: array}`` (Linear weights
``[out, in]``), which is then matched against :func:`weight_map` of the model. ``pytorch_model.bin``
is a pickle and is never loaded.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import _env  # noqa: F401  (must run before TensorFlow is imported)
from ..errors import ModelNotFoundError
from .config import EncoderConfig, read_config
from .model import EncoderModel, build_model

__all__ = [
    "LoadReport",
    "weight_map",
    "read_state_dict",
    "load_weights",
    "save_pretrained",
    "from_pretrained",
]

logger = logging.getLogger(__name__)

_BASE_STEMS = ("embeddings.", "encoder.", "transformer.", "pooler.", "embeddings_project.")
_BUFFERS = ("position_ids", "token_type_ids")  # non-parameter buffers some checkpoints carry


@dataclasses.dataclass
class LoadReport:
    """What :func:`load_weights` did.

    Attributes
    ----------
    loaded : list of str
        PyTorch names of the weights copied from the checkpoint.
    missing : list of str
        Weights of the model the checkpoint lacks or holds with another shape (left as initialised).
    unexpected : list of str
        Checkpoint weights the model has no place for (e.g. a pretraining head).
    source_format : str
        ``"pt_safetensors"``, ``"tf_safetensors"`` or ``"tf_h5"``.
    mismatched : list of str
        The subset of ``missing`` present in the checkpoint with another shape.
    """

    loaded: list[str]
    missing: list[str]
    unexpected: list[str]
    source_format: str
    mismatched: list[str] = dataclasses.field(default_factory=list)


def _dense_entries(name: str, layer: Any) -> dict[str, tuple[Any, bool]]:
    return {f"{name}.weight": (layer.kernel, True), f"{name}.bias": (layer.bias, False)}


def _norm_entries(name: str, layer: Any) -> dict[str, tuple[Any, bool]]:
    return {f"{name}.weight": (layer.gamma, False), f"{name}.bias": (layer.beta, False)}


def weight_map(model: EncoderModel) -> dict[str, tuple[Any, bool]]:
    """``{pytorch_name: (variable, transpose)}`` for every weight of ``model``.

    ``transpose`` is True for Dense kernels (PyTorch Linear stores ``[out, in]``, Keras ``[in, out]``).
    """
    c = model.config
    p = model.base_model_prefix
    bb = model.backbone
    emb = bb.embeddings
    out: dict[str, tuple[Any, bool]] = {
        f"{p}.embeddings.word_embeddings.weight": (emb.word_embeddings, False),
        f"{p}.embeddings.position_embeddings.weight": (emb.position_embeddings, False),
    }
    if emb.token_type_embeddings is not None:
        out[f"{p}.embeddings.token_type_embeddings.weight"] = (emb.token_type_embeddings, False)
    out.update(_norm_entries(f"{p}.embeddings.LayerNorm", emb.layer_norm))
    if bb.embeddings_project is not None:
        out.update(_dense_entries(f"{p}.embeddings_project", bb.embeddings_project))
    distil = c.model_type == "distilbert"
    for i, block in enumerate(bb.blocks):
        if distil:
            s = f"{p}.transformer.layer.{i}."
            names = {
                "attention.q_lin": block.query,
                "attention.k_lin": block.key,
                "attention.v_lin": block.value,
                "attention.out_lin": block.attention_output,
                "ffn.lin1": block.intermediate,
                "ffn.lin2": block.ffn_output,
            }
            norms = {"sa_layer_norm": block.attention_norm, "output_layer_norm": block.output_norm}
        else:
            s = f"{p}.encoder.layer.{i}."
            names = {
                "attention.self.query": block.query,
                "attention.self.key": block.key,
                "attention.self.value": block.value,
                "attention.output.dense": block.attention_output,
                "intermediate.dense": block.intermediate,
                "output.dense": block.ffn_output,
            }
            norms = {
                "attention.output.LayerNorm": block.attention_norm,
                "output.LayerNorm": block.output_norm,
            }
        for name, layer in names.items():
            out.update(_dense_entries(s + name, layer))
        for name, layer in norms.items():
            out.update(_norm_entries(s + name, layer))
    if bb.pooler is not None:
        out.update(_dense_entries(f"{p}.pooler.dense", bb.pooler))
    if model.head_name is None:
        return out
    if model.tagger_lstm is not None:  # easytx's own names, in Keras' layout (no transformers class)
        for direction in ("forward", "backward"):
            cell = getattr(model.tagger_lstm, f"{direction}_layer").cell
            for name in ("kernel", "recurrent_kernel", "bias"):
                out[f"tagger.bilstm.{direction}.{name}"] = (getattr(cell, name), False)
        if model.tagger_words is not None:
            out["tagger.word_embeddings.weight"] = (model.tagger_words.embeddings, False)
        out.update(_dense_entries("tagger.fc", model.tagger_fc))
        out.update(_dense_entries("classifier", model.output_layer))
        return out
    if model.head_name == "sequence_classification" and model.head_dense is not None:
        if distil:
            out.update(_dense_entries("pre_classifier", model.head_dense))
            out.update(_dense_entries("classifier", model.output_layer))
        else:
            out.update(_dense_entries("classifier.dense", model.head_dense))
            out.update(_dense_entries("classifier.out_proj", model.output_layer))
    else:
        out.update(_dense_entries("classifier", model.output_layer))
    return out


def _tf_name_to_pt(name: str, value: np.ndarray) -> tuple[str, np.ndarray]:
    """``bert/encoder/layer_._0/attention/self/query/kernel:0`` -> PyTorch name and layout."""
    name = name.split(":")[0].replace("_._", ".")
    parts = name.split("/")
    last = parts[-1]
    if last == "kernel":
        last = "weight"
        if value.ndim == 2:
            value = value.T
    elif last in ("gamma", "embeddings"):
        last = "weight"
    elif last == "beta":
        last = "bias"
    return ".".join(parts[:-1] + [last]), value


def _safetensors_format(path: Path) -> str | None:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        return (f.metadata() or {}).get("format")


def _read_h5(path: Path) -> dict[str, np.ndarray]:
    import h5py

    state = {}
    with h5py.File(str(path), "r") as f:
        for layer in f.attrs.get("layer_names", []):
            layer = layer.decode() if isinstance(layer, bytes) else layer
            group = f[layer]
            for wname in group.attrs.get("weight_names", []):
                wname = wname.decode() if isinstance(wname, bytes) else wname
                value = np.asarray(group[wname])
                # "tf_bert_model/bert/embeddings/..." -> drop the model's own name
                name, value = _tf_name_to_pt(wname.split("/", 1)[1] if "/" in wname else wname, value)
                state[name] = value
    return state


def read_state_dict(folder: str | os.PathLike) -> tuple[dict[str, np.ndarray], str]:
    """Read the weights in ``folder`` as a PyTorch-layout state dict, and name their format.

    Returns
    -------
    state : dict of str to numpy.ndarray
    source_format : {"pt_safetensors", "tf_safetensors", "tf_h5"}

    Raises
    ------
    ModelNotFoundError
        If the folder holds no readable weights, or only a pickled ``pytorch_model.bin``.
    """
    from safetensors.numpy import load_file

    folder = Path(folder)
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    files: list[Path] = []
    if single.is_file():
        files = [single]
    elif index.is_file():
        try:
            weight_map_ = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError) as err:
            raise ModelNotFoundError(
                f"{index} is not a valid safetensors index ({err}). Re-download the checkpoint."
            ) from err
        files = [folder / name for name in sorted(set(weight_map_.values()))]
        absent = [str(f.name) for f in files if not f.is_file()]
        if absent:
            raise ModelNotFoundError(
                f"The safetensors index in {folder} names shards that are not there: {absent}. "
                "Download the whole checkpoint."
            )
    if files:
        fmt = _safetensors_format(files[0])
        if fmt not in (None, "pt", "tf"):
            raise ModelNotFoundError(
                f"{files[0]} holds weights in the {fmt!r} layout. Expected PyTorch ('pt') or TensorFlow "
                "('tf') layout safetensors. Convert the checkpoint with transformers first."
            )
        state: dict[str, np.ndarray] = {}
        for f in files:
            state.update(load_file(str(f)))
        if fmt == "tf":
            return dict(_tf_name_to_pt(k, v) for k, v in state.items()), "tf_safetensors"
        return state, "pt_safetensors"
    h5 = folder / "tf_model.h5"
    if h5.is_file():
        return _read_h5(h5), "tf_h5"
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if "pytorch_model.bin" in present or any(n.startswith("pytorch_model-") for n in present):
        raise ModelNotFoundError(
            f"{folder} holds only pytorch_model.bin, a pickle file that easytx will not load (loading "
            "a pickle can run arbitrary code). Convert it to safetensors where torch is installed: "
            "`AutoModel.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)`."
        )
    raise ModelNotFoundError(
        f"No model weights in {folder} (looked for model.safetensors, model.safetensors.index.json and "
        f"tf_model.h5). Files there: {present}. Pass a Hugging Face model folder."
    )


def _normalise_names(state: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for name, value in state.items():
        if name.endswith(_BUFFERS) and name.split(".")[-1] in _BUFFERS:
            continue
        if name.startswith(_BASE_STEMS):
            name = f"{prefix}.{name}"
        if name.endswith(".gamma"):
            name = name[: -len("gamma")] + "weight"
        elif name.endswith(".beta"):
            name = name[: -len("beta")] + "bias"
        out[name] = value
    return out


def load_weights(model: EncoderModel, folder: str | os.PathLike, *, strict: bool = False) -> LoadReport:
    """Copy the checkpoint weights in ``folder`` into ``model``.

    Head weights the checkpoint lacks (or holds for another number of labels) keep their fresh
    initialisation and are logged at INFO; other missing weights are logged as a WARNING.

    Parameters
    ----------
    model : EncoderModel
    folder : path
        A model folder (see :func:`read_state_dict` for the accepted weight files).
    strict : bool
        Raise instead of leaving any model weight un-loaded.

    Returns
    -------
    LoadReport

    Raises
    ------
    ModelNotFoundError
        If no weights can be read, or ``strict`` and some weights are missing or of another shape.
    """
    raw, source_format = read_state_dict(folder)
    prefix = model.base_model_prefix
    state = _normalise_names(raw, prefix)
    loaded, missing, mismatched = [], [], []
    for name, (variable, transpose) in weight_map(model).items():
        value = state.get(name)
        if value is None:
            missing.append(name)
            continue
        if transpose:
            value = value.T
        if tuple(value.shape) != tuple(variable.shape):
            expected = tuple(variable.shape)[::-1] if transpose else tuple(variable.shape)
            mismatched.append(
                f"{name}: checkpoint {tuple(value.T.shape if transpose else value.shape)}, model {expected}"
            )
            missing.append(name)
            continue
        variable.assign(np.asarray(value, dtype=variable.dtype))
        loaded.append(name)
    used = set(loaded) | {m.split(":")[0] for m in mismatched}
    unexpected = sorted(set(state) - used)
    report = LoadReport(loaded, missing, unexpected, source_format, mismatched)
    if strict and missing:
        raise ModelNotFoundError(
            f"strict=True: {len(missing)} weights of the model are missing from {folder} or have another "
            f"shape there: {missing[:10]}{' ...' if len(missing) > 10 else ''}"
            f"{'; shape mismatches: ' + str(mismatched[:5]) if mismatched else ''}. "
            "Pass strict=False to keep them freshly initialised (normal for a new head)."
        )
    head = [n for n in missing if not n.startswith(prefix + ".") or ".pooler." in n]
    body = [n for n in missing if n not in head]
    if head:
        logger.info("Newly initialised head weights (not in %s): %s", folder, head)
    if body:
        logger.warning(
            "%d weights of the %s encoder are not in %s and keep a random initialisation: %s",
            len(body),
            model.config.model_type,
            folder,
            body[:10],
        )
    if mismatched:
        logger.info("Weights of another shape in the checkpoint, left initialised: %s", mismatched)
    if unexpected:
        logger.info("Unused checkpoint weights: %s", unexpected[:10])
    return report


def save_pretrained(model: EncoderModel, folder: str | os.PathLike) -> Path:
    """Write ``config.json`` and a PyTorch-layout ``model.safetensors`` for ``model``.

    The names are the ones transformers' PyTorch classes use (``bert.embeddings.word_embeddings.weight``,
    ``classifier.weight``, ...), so the folder loads in transformers and back into :func:`from_pretrained`.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for name, (variable, transpose) in weight_map(model).items():
        value = np.asarray(variable.numpy(), dtype="float32")
        state[name] = np.ascontiguousarray(value.T if transpose else value)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_dict(model.head_name)
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def from_pretrained(
    folder: str | os.PathLike,
    *,
    head: str | None,
    num_labels: int | None = None,
    id2label: dict[int, str] | None = None,
    strict: bool = False,
) -> EncoderModel:
    """Read the config in ``folder``, set the labels, build the model and load its weights.

    Parameters
    ----------
    folder : path
        A Hugging Face model folder (``config.json`` + weights).
    head : {None, "sequence_classification", "token_classification"}
    num_labels : int, optional
        Defaults to ``len(id2label)`` or to the checkpoint's own labels.
    id2label : dict, optional
    strict : bool
        See :func:`load_weights`.
    """
    config: EncoderConfig = read_config(folder)
    if num_labels is not None or id2label is not None:
        config = config.with_labels(num_labels if num_labels is not None else len(id2label), id2label)
    model = build_model(config, head)
    load_weights(model, folder, strict=strict)
    return model
