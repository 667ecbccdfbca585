"""The ONNX Runtime engine: a saved predictor's ONNX graph run without TensorFlow.

``predictor.save(folder, onnx=True)`` writes ``model.onnx`` next to the TensorFlow weights
(``onnx="int8"`` also ``model.int8.onnx``, dynamically quantized), both checksummed in
``easytx.json``. :func:`easytx.load_predictor` with ``engine="onnx"`` or ``"onnx-int8"`` then
builds the same :class:`~easytx.Predictor` around an :class:`OnnxModel` instead of a TensorFlow
model, and around a tokenizer read from ``tokenizer.json`` by the ``tokenizers`` package
(:mod:`easytx.tokenizer_json`). Tokenization, length-sorted batching, probabilities and
decoding are the very code the TensorFlow engine runs; only the forward pass differs. Nothing
on this path imports TensorFlow, Keras or transformers: numpy, ``tokenizers`` and
``onnxruntime`` are all it needs (scikit-learn too for ``evaluate``'s report).

Engines (:data:`ENGINES`):

* ``"tf"``: the TensorFlow model (needed for ``explain``, ``save``, ``export`` and training);
* ``"onnx"``: ``model.onnx`` (float32), the TensorFlow engine's answers to about 1e-6;
* ``"onnx-int8"``: ``model.int8.onnx``, weights quantized to int8 (faster and smaller; its
  probabilities move, on a MiniLM classifier by 0.01 on average and 0.2 at most, so texts
  near the decision boundary can change label);
* ``"auto"``: ``"onnx"`` when the folder holds ``model.onnx`` and onnxruntime is installed,
  otherwise ``"tf"``. It never picks int8 on its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ArtifactError, ConfigError, MissingDependencyError, closest_match_hint

logger = logging.getLogger(__name__)

__all__ = [
    "ENGINES",
    "GRAPH_FILES",
    "OnnxModel",
    "check_engine",
    "resolve_engine",
    "require_tensorflow",
    "onnxruntime_available",
    "load_onnx_model",
]

#: engine names :func:`easytx.load_predictor` accepts
ENGINES = ("auto", "tf", "onnx", "onnx-int8")
#: the graph file of each ONNX engine inside a predictor folder
GRAPH_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
#: what ``save(onnx=...)`` writes: the engines whose graphs a folder gets
SAVE_OPTIONS = {True: ("onnx",), "fp32": ("onnx",), "int8": ("onnx", "onnx-int8")}

_ORT_HINT = "The ONNX engines need onnxruntime: pip install onnxruntime (or pip install 'easytx-nlp[onnx]')"


def check_engine(engine: Any) -> str:
    """``engine`` if it is one of :data:`ENGINES`, else a :class:`ConfigError` naming them."""
    if isinstance(engine, str) and engine in ENGINES:
        return engine
    hint = closest_match_hint(str(engine), ENGINES) if isinstance(engine, str) else ""
    raise ConfigError(
        f"`engine` must be one of {list(ENGINES)}. Received: engine={engine!r}.{hint} "
        "Use 'onnx' or 'onnx-int8' for a folder saved with save(..., onnx=True / onnx='int8'), "
        "'tf' for the TensorFlow model, or 'auto'."
    )


def check_save_option(onnx: Any) -> tuple[str, ...]:
    """The engines whose graphs ``save(onnx=...)`` writes (``()`` for ``False``/``None``)."""
    if onnx is None or onnx is False:
        return ()
    if isinstance(onnx, (bool, str)) and onnx in SAVE_OPTIONS:
        return SAVE_OPTIONS[onnx]
    raise ConfigError(
        f"`onnx` must be False, True (a float32 ONNX graph) or 'int8' (float32 and int8 graphs). "
        f"Received: onnx={onnx!r}"
    )


def onnxruntime_available() -> bool:
    """Whether ``import onnxruntime`` works here."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise MissingDependencyError(f"{_ORT_HINT} ({exc}).") from None
    return onnxruntime


def saved_graphs(manifest: dict) -> dict[str, str]:
    """``{engine: file}`` of the ONNX graphs a predictor's ``easytx.json`` lists."""
    section = manifest.get("onnx")
    graphs = section.get("graphs") if isinstance(section, dict) else None
    if not isinstance(graphs, dict):
        return {}
    for engine, name in graphs.items():
        if GRAPH_FILES.get(engine) != name:  # only the files easytx writes, never another path
            raise ArtifactError(
                f"easytx.json names {name!r} as the graph of engine {engine!r}; easytx writes "
                f"{GRAPH_FILES}. The manifest was changed after saving."
            )
    return dict(graphs)


def resolve_engine(engine: Any, manifest: dict, *, folder: Any = None, backend: str | None = None) -> str:
    """The engine to load a predictor with: ``"tf"``, ``"onnx"`` or ``"onnx-int8"``.

    ``"auto"`` gives ``"onnx"`` when the folder holds an fp32 graph and onnxruntime is installed,
    and ``"tf"`` otherwise, or when a model ``backend`` was named (a TensorFlow choice).

    Raises
    ------
    ConfigError
        Unknown engine name, or a model ``backend`` named with an ONNX engine.
    ArtifactError
        An ONNX engine asked for a folder saved without its graph.
    MissingDependencyError
        An ONNX engine asked for without onnxruntime installed.
    """
    engine = check_engine(engine)
    graphs = saved_graphs(manifest)
    if engine == "auto":
        if backend is None and "onnx" in graphs and onnxruntime_available():
            return "onnx"
        return "tf"
    if engine == "tf":
        return engine
    if backend is not None:
        raise ConfigError(
            f"`backend` picks the TensorFlow model backend; it has no effect with engine={engine!r}. "
            f"Received: backend={backend!r}. Drop backend=, or pass engine='tf'."
        )
    if engine not in graphs:
        where = f"{folder} was" if folder is not None else "This predictor was"
        option = "onnx='int8'" if engine == "onnx-int8" else "onnx=True"
        raise ArtifactError(
            f"{where} saved without the {engine!r} engine's graph ({GRAPH_FILES[engine]}); it holds "
            f"{sorted(graphs) or 'no ONNX graph'}. Save it with predictor.save(folder, {option}) "
            "(load it with engine='tf' to do so), or load it with engine='tf'."
        )
    _import_onnxruntime()
    return engine


def require_tensorflow(folder: Any = None) -> None:
    """Raise :class:`MissingDependencyError` when the ``"tf"`` engine cannot run here (no
    TensorFlow or transformers, as in an app installed for the ONNX engines)."""
    import importlib

    for name in ("tensorflow", "transformers"):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            where = f"{folder}" if folder is not None else "this predictor"
            raise MissingDependencyError(
                f"The 'tf' engine needs TensorFlow and transformers (the full easytx-nlp install), "
                f"but {exc}. Load {where} with engine='onnx' or 'onnx-int8' (a folder saved with "
                "onnx=True or onnx='int8'), or pip install easytx-nlp."
            ) from None


def _check_threads(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"`{name}` must be a non-negative int (0: onnxruntime's default, one thread per "
            f"physical core). Received: {name}={value!r}"
        )
    return value


class OnnxModel:
    """An onnxruntime session that returns a predictor's logits for a padded batch.

    It stands where the TensorFlow model stands in a :class:`~easytx.Predictor`:
    :func:`easytx.inference.predict_logits` calls :meth:`numpy_forward` on each length-sorted batch.

    Parameters
    ----------
    session : onnxruntime.InferenceSession
    engine : {"onnx", "onnx-int8"}
    path : Path
        The graph file the session was made from (for messages).
    """

    def __init__(self, session: Any, *, engine: str, path: Path):
        self.session = session
        self.easytx_engine = engine
        self.path = Path(path)
        self.input_names = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        if "logits" not in outputs:
            raise ArtifactError(
                f"{path} has no 'logits' output (it has {outputs}); it was not written by easytx."
            )
        self.output_name = "logits"

    def __repr__(self) -> str:
        return f"OnnxModel({self.path.name}, engine={self.easytx_engine!r}, inputs={self.input_names})"

    @property
    def n_outputs(self) -> int | None:
        """Size of the logits' last axis, when the graph fixes it."""
        shape = next(o.shape for o in self.session.get_outputs() if o.name == self.output_name)
        last = shape[-1] if shape else None
        return last if isinstance(last, int) else None

    def numpy_forward(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Logits (float32) for one padded batch of int32 token arrays."""
        try:
            feed = {name: inputs[name] for name in self.input_names}
        except KeyError as exc:
            raise ArtifactError(
                f"{self.path} expects the input {exc} that the tokenizer does not produce: the graph "
                "and the tokenizer do not belong together."
            ) from None
        return self.session.run([self.output_name], feed)[0]


def session_options(
    *,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    allow_spinning: bool = False,
) -> Any:
    """``onnxruntime.SessionOptions`` with the thread counts set (``None`` or 0: the default).

    ``allow_spinning=False`` (easytx's default, unlike onnxruntime's) makes idle pool threads
    sleep instead of spin-waiting for work. Measured on 2 cores with all-MiniLM-L6-v2: when other
    processes keep the cores busy, sleeping threads give 1.3 to 2 times the batch throughput and
    a steadier single-text latency; on a machine that runs nothing else, spinning threads are 7 to
    15% faster (int8 graph, batches of 32 and single texts). ``allow_spinning=True`` is for that
    case: a server or app that has the cores to itself.
    """
    ort = _import_onnxruntime()
    options = ort.SessionOptions()
    intra = _check_threads(intra_op_threads, "intra_op_threads")
    inter = _check_threads(inter_op_threads, "inter_op_threads")
    if intra:
        options.intra_op_num_threads = intra
    if inter:
        options.inter_op_num_threads = inter
    spin = "1" if allow_spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def load_onnx_model(
    folder: str | os.PathLike,
    manifest: dict,
    engine: str,
    *,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    allow_spinning: bool = False,
    providers: list[str] | None = None,
) -> OnnxModel:
    """Open the graph of ``engine`` in a verified predictor folder.

    The file's bytes are read once, checked against the sha256 in ``easytx.json`` and handed
    to onnxruntime, so the graph that runs is the graph that was checked.

    Parameters
    ----------
    folder : path
        The predictor folder (already verified by :func:`easytx.artifacts.verify_folder`).
    manifest : dict
        Its ``easytx.json``.
    engine : {"onnx", "onnx-int8"}
    intra_op_threads, inter_op_threads : int, optional
        onnxruntime's thread pools (``None``: one thread per physical core for intra-op).
    allow_spinning : bool
        Let idle pool threads spin-wait (onnxruntime's default); see :func:`session_options`.
    providers : list of str, optional
        onnxruntime execution providers (default ``["CPUExecutionProvider"]``).

    Raises
    ------
    ArtifactError
        The graph is missing, does not match its checksum, or onnxruntime cannot load it.
    """
    ort = _import_onnxruntime()
    options = session_options(
        intra_op_threads=intra_op_threads, inter_op_threads=inter_op_threads, allow_spinning=allow_spinning
    )
    name = saved_graphs(manifest).get(engine)
    if name is None:
        raise ArtifactError(f"{folder}/easytx.json lists no graph for engine {engine!r}.")
    path = Path(folder) / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path} could not be read: {exc.strerror or exc}.") from None
    expected = (manifest.get("files") or {}).get(name)
    if expected is None or hashlib.sha256(data).hexdigest() != expected:
        raise ArtifactError(
            f"{path} does not match its checksum in easytx.json: the file was changed or damaged "
            "after saving."
        )
    try:
        session = ort.InferenceSession(
            data, sess_options=options, providers=providers or ["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception classes
        raise ArtifactError(
            f"onnxruntime cannot load {path}: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    model = OnnxModel(session, engine=engine, path=path)
    logger.info("Loaded %s with onnxruntime %s (engine %r).", path, ort.__version__, engine)
    return model
