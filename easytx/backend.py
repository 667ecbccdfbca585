"""Model backends: building, loading, saving and reaching into models, behind one interface.

Two backends build the same models from the same folders:

* ``"keras3"``: easytx's own Keras 3 encoders (:mod:`easytx.encoders`) for the BERT family
  (BERT, MiniLM, DistilBERT, RoBERTa, CodeBERT, XLM-R, CamemBERT, ELECTRA). It needs neither
  transformers' TF classes nor tf-keras, so it runs with transformers 5 and whatever TensorFlow
  and Keras 3 are installed.
* ``"transformers"``: Hugging Face's TF classes on tf-keras (the ``legacy`` extra: transformers
  < 5 and tf-keras), for every architecture those classes have (DeBERTa, ALBERT, ...).

:func:`choose_backend` picks one per model (``backend="auto"``: Keras 3 where the architecture is
supported, otherwise the transformers TF classes; ``EASYTX_BACKEND`` sets the default). Both read
the hub's ``config.json`` and weights and write the same predictor format: ``config.json`` and
a ``model.safetensors`` that either backend loads.

For the transformers backend, this module turns a model reference (a hub name or a local
folder) into a tokenizer, a config and a TensorFlow model with the right head, whatever form the weights take:

* ``tf_model.h5`` or TensorFlow-layout ``model.safetensors`` -> ``TFAutoModel*.from_pretrained``;
* PyTorch-layout ``model.safetensors`` (most hub models today), sharded or not -> the tensors are
  read as numpy arrays with :mod:`safetensors.numpy` and mapped into a model built from the config.
  This needs no torch, and it sidesteps transformers 4.55-4.57's
  ``TypeError: 'builtins.safe_open' object is not iterable`` on that path;
* ``pytorch_model.bin`` alone is refused: it is a pickle, which easytx never loads.

A hub name is first resolved to a local snapshot with :func:`huggingface_hub.snapshot_download`;
offline, that fails with a :class:`~easytx.errors.ModelNotFoundError` that explains how to pass a
local folder instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import _env  # noqa: F401  (must run before TensorFlow is imported)
from .errors import ConfigError, ModelNotFoundError

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "choose_backend",
    "backend_of",
    "legacy_available",
    "no_decay_variables",
    "head_variables",
    "rebuild",
    "HEADS",
    "resolve_model_source",
    "load_tokenizer",
    "load_config",
    "build_model",
    "resolve_pooling",
    "load_model",
    "save_model",
    "backbone",
    "last_hidden_state",
    "hidden_size",
    "base_layers",
    "set_frozen",
]

#: head name -> transformers Auto class name (``"feature_extraction"``: the encoder without a head,
#: for embeddings of a base model)
HEADS = {
    "sequence_classification": "TFAutoModelForSequenceClassification",
    "token_classification": "TFAutoModelForTokenClassification",
    "feature_extraction": "TFAutoModel",
}

_HUB_PATTERNS = [
    "*.json",
    "*.txt",
    "*.model",
    "tf_model.h5",
    "tf_model.h5.index.json",
    "tf_model-*.h5",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*.safetensors",
]


#: backend names a user may pass (``backend=``, ``EASYTX_BACKEND``)
BACKENDS = ("auto", "keras3", "transformers")

_LEGACY_EXTRA = (
    "pip install 'easytx-nlp[legacy]' (the legacy extra: transformers>=4.44,<5 and tf-keras; in an "
    "existing environment it moves transformers back to 4.x, and tf-keras pins its own TensorFlow minor)"
)


def legacy_available() -> tuple[bool, str]:
    """Whether the transformers backend can run here, and if not, why."""
    import importlib.util

    # transformers first: on transformers 5 (Colab) installing tf-keras alone would not help
    try:
        import transformers
    except ImportError:
        return False, "transformers is not installed"
    major = int(str(transformers.__version__).split(".")[0])
    if major >= 5:
        version = transformers.__version__
        return False, f"transformers {version} has no TensorFlow classes (the last with them is 4.57)"
    if importlib.util.find_spec("tf_keras") is None:
        return False, "tf-keras is not installed"
    return True, ""


def _read_config_dict(source: Path) -> dict:
    path = Path(source) / "config.json"
    if not path.is_file():
        raise ModelNotFoundError(
            f"{source} has no config.json, so it is not a Hugging Face model folder. Files there: "
            f"{sorted(p.name for p in Path(source).iterdir())[:20]}."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelNotFoundError(f"{path} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{path} must hold a JSON object; it holds {type(data).__name__}.")
    return data


def choose_backend(source: Path, requested: str | None = None) -> str:
    """The backend that will run the model in ``source``: ``"keras3"`` or ``"transformers"``.

    Parameters
    ----------
    source : Path
        A local model folder (its ``config.json`` names the architecture).
    requested : {"auto", "keras3", "transformers"}, optional
        ``None`` takes ``EASYTX_BACKEND`` (default ``"auto"``: Keras 3 where the architecture is
        supported, the transformers TF classes otherwise).

    Raises
    ------
    ConfigError
        The requested backend cannot run this architecture here; the message names what to install.
    """
    from . import _keras
    from ._env import BACKEND_ENV, requested_backend
    from .encoders.config import SUPPORTED_MODEL_TYPES, is_supported

    choice = requested_backend() if requested is None else str(requested).strip().lower()
    choice = {"legacy": "transformers", "keras": "keras3"}.get(choice, choice)
    if choice not in BACKENDS:
        where = f"{BACKEND_ENV}={choice!r}" if requested is None else f"backend={requested!r}"
        raise ConfigError(f"`backend` must be one of {list(BACKENDS)}. Received: {where}.")
    config = _read_config_dict(Path(source))
    model_type = config.get("model_type", "?")
    # (importing Keras 3 takes seconds: not when the transformers backend was asked for)
    k3_ok = choice != "transformers" and is_supported(config) and _keras.keras3() is not None
    if choice == "keras3" or (choice == "auto" and k3_ok):
        if not k3_ok:
            if _keras.keras3() is None:
                raise ConfigError(
                    "backend='keras3' needs Keras 3 (the `keras` package >= 3, which TensorFlow "
                    ">= 2.16 installs)."
                )
            raise ConfigError(
                f"backend='keras3' runs the BERT family ({', '.join(sorted(SUPPORTED_MODEL_TYPES))}); "
                f"{source} is a {model_type!r} model. Use backend='transformers' with the legacy "
                f"extra: {_LEGACY_EXTRA}."
            )
        return "keras3"
    legacy_ok, legacy_why = legacy_available()
    if not legacy_ok:
        if choice == "transformers":
            what = "backend='transformers' needs"
        else:
            what = (
                f"{model_type!r} models are not among the Keras 3 encoders "
                f"({', '.join(sorted(SUPPORTED_MODEL_TYPES))}); they need"
            )
        raise ConfigError(
            f"{what} transformers' TF classes, but {legacy_why}. Install them: {_LEGACY_EXTRA}."
        )
    return "transformers"


def backend_of(model: Any) -> str:
    """The backend a built model belongs to."""
    from ._keras import is_keras3_model

    return "keras3" if is_keras3_model(model) else "transformers"


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' per-load chatter; easytx logs one concise line instead."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def resolve_model_source(name_or_path: str | os.PathLike) -> Path:
    """Return a local folder for a model reference (a folder, or a hub name fetched to the cache).

    Raises
    ------
    ModelNotFoundError
        The reference is neither a folder nor a model the hub can provide (offline, misspelt, or
        private).
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ConfigError(
            "`model` must be a hub name (e.g. 'bert-base-uncased') or a local folder path. "
            f"Received an object of type {type(name_or_path).__name__}."
        )
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelNotFoundError(
            f"{path} is a file; a model is a folder with config.json, tokenizer files and weights."
        )
    name = str(name_or_path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise ModelNotFoundError(f"Model folder {path} does not exist.")
    try:
        from huggingface_hub import snapshot_download

        with _quiet_transformers():
            folder = snapshot_download(repo_id=name, allow_patterns=_HUB_PATTERNS)
    except Exception as exc:  # noqa: BLE001 - hub errors come in many classes; all mean "not here"
        raise ModelNotFoundError(
            f"Could not load model {name!r}: it is not a local folder, and the Hugging Face hub "
            f"could not provide it ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). If "
            "this machine is offline, fetch the model where the hub is reachable (e.g. "
            f"`huggingface-cli download {name} --local-dir ./{name.split('/')[-1]}`), copy the "
            "folder here and pass its path."
        ) from None
    return Path(folder)


def _refuse_remote_code(source: Path) -> None:
    """Refuse a model folder whose JSON asks transformers to import custom Python code."""
    for name in ("config.json", "tokenizer_config.json"):
        path = Path(source) / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelNotFoundError(f"{path} is not valid JSON: {exc}.") from None
        keys = [k for k in ("auto_map", "custom_pipelines") if isinstance(data, dict) and k in data]
        if keys:
            raise ModelNotFoundError(
                f"{path} sets {keys[0]!r}: this model needs custom Python code from its folder or the "
                "hub, and easytx never runs downloaded code. Use a model whose architecture "
                "transformers ships (BERT, DistilBERT, RoBERTa, MiniLM, ...)."
            )


def load_tokenizer(source: Path, **options: Any) -> Any:
    """Load the (fast) tokenizer stored in ``source`` (never running code from the folder).

    ``options`` go to ``AutoTokenizer.from_pretrained`` (e.g. ``add_prefix_space=True``, which
    byte-level BPE tokenizers need to tokenize pre-split words).
    """
    from transformers import AutoTokenizer

    _refuse_remote_code(source)
    try:
        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(
                str(source), use_fast=True, trust_remote_code=False, **options
            )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(
            f"No usable tokenizer in {source}: {exc}. The folder needs tokenizer.json or the "
            "tokenizer's vocabulary files (vocab.txt, or vocab.json + merges.txt)."
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        logger.warning("The tokenizer in %s has no fast (Rust) version; tokenization will be slower.", source)
    return tokenizer


def load_config(source: Path, **overrides: Any) -> Any:
    """Load ``config.json`` from ``source`` with ``overrides`` applied."""
    from transformers import AutoConfig

    if not (Path(source) / "config.json").is_file():
        raise ModelNotFoundError(
            f"{source} has no config.json, so it is not a Hugging Face model folder. Files there: "
            f"{sorted(p.name for p in Path(source).iterdir())[:20]}."
        )
    _refuse_remote_code(source)
    try:
        with _quiet_transformers():
            return AutoConfig.from_pretrained(str(source), trust_remote_code=False, **overrides)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(f"Could not read the model config in {source}: {exc}") from None


def _auto_class(head: str) -> Any:
    if head not in HEADS:
        raise ConfigError(f"Unknown head {head!r}; expected one of {sorted(HEADS)}.")
    ok, why = legacy_available()
    if not ok:
        raise ConfigError(
            f"The transformers backend needs transformers' TF classes, but {why}. Use a model the "
            f"Keras 3 backend runs (BERT family), or install the legacy extra: {_LEGACY_EXTRA}."
        )
    import transformers

    return getattr(transformers, HEADS[head])


def _safetensors_format(path: Path) -> str | None:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as handle:
        return (handle.metadata() or {}).get("format")


def _weight_files(source: Path) -> tuple[str, list[Path]]:
    """Classify the weights in ``source``: ('tf', [...]), ('pt_safetensors', [...]) or raise."""
    if (source / "tf_model.h5").is_file() or (source / "tf_model.h5.index.json").is_file():
        return "tf", []
    single = source / "model.safetensors"
    index = source / "model.safetensors.index.json"
    if index.is_file():
        mapping = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        shards = sorted({source / name for name in mapping.values()})
        missing = [p.name for p in shards if not p.is_file()]
        if missing:
            raise ModelNotFoundError(f"{source} lists weight shards that are missing: {missing}.")
        files = shards
    elif single.is_file():
        files = [single]
    else:
        files = []
    if files:
        return ("tf", files) if _safetensors_format(files[0]) == "tf" else ("pt_safetensors", files)
    if (source / "pytorch_model.bin").is_file():
        raise ModelNotFoundError(
            f"{source} holds only pytorch_model.bin, a pickle file that easytx will not load (loading "
            "a pickle can run arbitrary code). Convert it to safetensors where torch is installed: "
            "`AutoModel.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)`."
        )
    raise ModelNotFoundError(
        f"No model weights in {source} (looked for tf_model.h5 and model.safetensors). Files there: "
        f"{sorted(p.name for p in source.iterdir())[:20]}."
    )


def _build_from_config(config: Any, head: str) -> Any:
    model = _auto_class(head).from_config(config)
    model(model.dummy_inputs, training=False)  # create the variables
    return model


def _load_pt_safetensors(model: Any, files: list[Path]) -> None:
    from safetensors.numpy import load_file
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    state: dict = {}
    for file in files:
        state.update(load_file(str(file)))
    with _quiet_transformers():
        _, info = load_pytorch_state_dict_in_tf2_model(
            model,
            state,
            allow_missing_keys=True,
            output_loading_info=True,
            ignore_mismatched_sizes=True,
        )
    _log_loading_info(info)


def _log_loading_info(info: dict) -> None:
    missing = [k for k in info.get("missing_keys", []) if not _is_head_weight(k)]
    if missing:
        logger.warning(
            "%d weight(s) were not in the checkpoint and start from random values: %s",
            len(missing),
            missing[:8],
        )
    head = [k for k in info.get("missing_keys", []) if _is_head_weight(k)]
    if head:
        logger.info("New task head initialised at random: %s", head)


def _is_head_weight(name: str) -> bool:
    return any(part in name for part in ("classifier", "pre_classifier", "score", "qa_outputs"))


def build_model(
    source: Path,
    *,
    head: str,
    num_labels: int,
    id2label: dict[int, str] | None = None,
    pretrained: bool = True,
    config_overrides: dict | None = None,
    strict: bool = False,
    backend: str | None = None,
) -> Any:
    """Build a model with ``head`` from the checkpoint in ``source``, on the chosen backend.

    Parameters
    ----------
    source : Path
        A local model folder (see :func:`resolve_model_source`).
    head : str
        One of :data:`HEADS`.
    num_labels : int
        Size of the task head.
    id2label : dict, optional
        Stored in the model config for readability.
    pretrained : bool
        Load the checkpoint's weights (``False`` gives random weights from the config).
    config_overrides : dict, optional
        Extra config values (e.g. dropout).
    strict : bool
        Every weight of the model, head included, must come from the checkpoint in ``source``
        (used to convert trained models, where a silently re-initialised head would be wrong);
        otherwise raise :class:`ModelNotFoundError` naming the missing weights.
    backend : {"auto", "keras3", "transformers"}, optional
        See :func:`choose_backend` (``None``: ``EASYTX_BACKEND``, default ``"auto"``).
    """
    feature = _keras3_only_feature(Path(source), head, config_overrides)
    if feature is not None:
        backend = _keras3_only_backend(Path(source), backend, feature)
    if choose_backend(Path(source), backend) == "keras3":
        return _build_keras3(
            Path(source),
            head=head,
            num_labels=num_labels,
            id2label=id2label,
            pretrained=pretrained,
            config_overrides=config_overrides,
            strict=strict,
        )
    return _build_transformers(
        source,
        head=head,
        num_labels=num_labels,
        id2label=id2label,
        pretrained=pretrained,
        config_overrides=config_overrides,
        strict=strict,
    )


def _token_head(settings: dict, head: str) -> dict | None:
    """The non-linear token head ``settings`` (config.json with the overrides) ask for, if any."""
    from .encoders.config import TOKEN_HEAD_KEY

    spec = settings.get(TOKEN_HEAD_KEY)
    if not spec or (isinstance(spec, dict) and spec.get("kind", "linear") == "linear"):
        return None
    if head != "token_classification":
        raise ConfigError(
            f"`{TOKEN_HEAD_KEY}` describes a tagging head; it cannot go on a {head!r} model. "
            "Drop it from the config overrides (or from config.json)."
        )
    return spec


def _keras3_only_feature(source: Path, head: str, config_overrides: dict | None) -> tuple[str, str] | None:
    """``(what, alternative)`` when the model asked for needs easytx's Keras 3 encoders, else ``None``.

    Two heads exist there only: ktrain's BiLSTM tagger and a classification head on mean pooling.
    """
    from .encoders.config import POOLING_KEY

    settings = {**_read_config_dict(source), **(config_overrides or {})}  # an override wins
    if _token_head(settings, head):
        return (
            "The BiLSTM tagger ('bilstm-transformer')",
            "sequence_tagger('transformer', ...) to fine-tune a linear tagging head on the "
            "transformers backend",
        )
    pooling = settings.get(POOLING_KEY)
    if head == "sequence_classification" and pooling not in (None, "cls"):
        return (
            f"A classification head on {pooling} pooling ({POOLING_KEY}={pooling!r})",
            "get_classifier(pooling='cls') to train transformers' head on the first token",
        )
    return None


def _keras3_only_backend(source: Path, requested: str | None, feature: tuple[str, str]) -> str:
    """``"keras3"`` for a model that exists on easytx's Keras 3 encoders only (``feature``).

    An explicit ``backend="transformers"`` is refused (rather than building transformers' own head
    in its place); ``EASYTX_BACKEND=transformers``, a process-wide preference, gives way with an
    INFO line.
    """
    from ._env import BACKEND_ENV, requested_backend
    from .encoders.config import SUPPORTED_MODEL_TYPES, is_supported

    what, alternative = feature
    config = _read_config_dict(source)
    model_type = config.get("model_type", "?")
    if requested is not None and str(requested).strip().lower() in ("transformers", "legacy"):
        raise ConfigError(
            f"{what} is built on easytx's Keras 3 encoders; backend={requested!r} was asked for. "
            f"Use backend='keras3' (or 'auto'), or {alternative}."
        )
    if requested is None and requested_backend() in ("transformers", "legacy"):
        logger.info(
            "%s=%s: %s is built on easytx's Keras 3 encoders.", BACKEND_ENV, requested_backend(), what
        )
    if not is_supported(config):
        raise ConfigError(
            f"{what} runs on easytx's Keras 3 encoders ({', '.join(sorted(SUPPORTED_MODEL_TYPES))}); "
            f"{source} is a {model_type!r} model. Pick a model of those families (e.g. "
            f"bert-base-multilingual-cased, roberta-base), or use {alternative}."
        )
    return "keras3"


def resolve_pooling(source: Path, pooling: str, *, head: str, backend: str | None = None) -> str:
    """The pooling a new ``head`` on the model in ``source`` uses: ``"cls"`` or ``"mean"``.

    ``"auto"`` follows the model: a sentence-transformers model that pools by mean (all-MiniLM-L6-v2,
    all-mpnet-base-v2, ...; see :func:`easytx.encoders.config.sentence_transformers_pooling`) gets
    ``"mean"`` for a sequence-classification head on the Keras 3 encoders, anything else ``"cls"``
    (transformers' heads, on the first token). Under the transformers backend ``"auto"`` gives
    ``"cls"`` with an INFO line, since its classes pool by the first token only.

    Raises
    ------
    ConfigError
        ``pooling`` is not ``"auto"``, ``"cls"`` or ``"mean"``, or ``"mean"`` was asked for a head
        other than sequence classification.
    """
    from .encoders.config import POOLINGS, sentence_transformers_pooling

    if pooling not in ("auto", *POOLINGS):
        raise ConfigError(
            f"`pooling` must be one of {['auto', *POOLINGS]}. Received: pooling={pooling!r}. 'mean' "
            "puts the classification head on the mean of the tokens (what sentence-embedding models "
            "are trained for), 'cls' on the first token (transformers' heads), 'auto' picks by model."
        )
    if head != "sequence_classification":
        if pooling == "mean":
            raise ConfigError(
                f"pooling='mean' applies to a classification head on whole texts; this model has a "
                f"{head!r} head. Leave `pooling` at 'auto'."
            )
        return "cls"
    if pooling != "auto":
        return pooling
    if sentence_transformers_pooling(source) != "mean":
        return "cls"
    if choose_backend(Path(source), backend) != "keras3":
        logger.info(
            "%s is a sentence-transformers model that pools by mean; the transformers backend's "
            "classification heads read the first token, so this one does too.",
            source,
        )
        return "cls"
    logger.info(
        "%s is a sentence-transformers model that pools by mean: the classification head reads "
        "the mean of the tokens (pooling='auto'; pooling='cls' for transformers' head on the "
        "first token).",
        source,
    )
    return "mean"


def _build_keras3(
    source: Path,
    *,
    head: str,
    num_labels: int,
    id2label: dict[int, str] | None,
    pretrained: bool,
    config_overrides: dict | None,
    strict: bool,
) -> Any:
    from .encoders.config import EncoderConfig
    from .encoders.model import build_model as build_encoder
    from .encoders.weights import load_weights

    if head not in HEADS:
        raise ConfigError(f"Unknown head {head!r}; expected one of {sorted(HEADS)}.")
    _refuse_remote_code(source)
    raw = _read_config_dict(source)
    raw.update(config_overrides or {})
    config = EncoderConfig.from_dict(raw).with_labels(int(num_labels), id2label)
    model = build_encoder(config, None if head == "feature_extraction" else head)
    if pretrained:
        report = load_weights(model, source, strict=strict)
        logger.info("Loaded %s weights from %s into the Keras 3 encoder", report.source_format, source)
    return model


def _build_transformers(
    source: Path,
    *,
    head: str,
    num_labels: int,
    id2label: dict[int, str] | None = None,
    pretrained: bool = True,
    config_overrides: dict | None = None,
    strict: bool = False,
) -> Any:
    """:func:`build_model` on transformers' TF classes (``strict``: weights from a TF checkpoint)."""
    overrides = dict(config_overrides or {})
    overrides["num_labels"] = int(num_labels)
    if id2label:
        overrides["id2label"] = {int(k): str(v) for k, v in id2label.items()}
        overrides["label2id"] = {str(v): int(k) for k, v in id2label.items()}
    config = load_config(source, **overrides)
    if not pretrained:
        return _build_from_config(config, head)
    kind, files = _weight_files(Path(source))
    if kind == "tf":
        with _quiet_transformers():
            try:
                model, info = _auto_class(head).from_pretrained(
                    str(source),
                    config=config,
                    local_files_only=True,
                    ignore_mismatched_sizes=not strict,
                    output_loading_info=True,
                )
            except ValueError as exc:
                if not strict:
                    raise
                raise ModelNotFoundError(f"The weights in {source} do not fit the model: {exc}") from None
        problems = [*info.get("missing_keys", []), *info.get("mismatched_keys", [])]
        if strict and problems:
            raise ModelNotFoundError(
                f"The weights in {source} do not cover the whole model; missing or mismatched: "
                f"{[str(p) for p in problems][:8]}."
            )
        logger.info("Loaded TensorFlow weights from %s", source)
        return model
    if strict:
        raise ModelNotFoundError(f"{source} holds no TensorFlow weights (tf_model.h5) to convert.")
    model = _build_from_config(config, head)
    _load_pt_safetensors(model, files)
    logger.info("Loaded PyTorch-layout safetensors from %s into TensorFlow (no torch needed)", source)
    return model


def load_model(folder: Path, *, head: str, backend: str | None = None) -> Any:
    """Load a model written by :func:`save_model` (a saved predictor's ``model/`` folder).

    Either backend loads what either wrote (``backend`` as in :func:`choose_backend`).
    """
    config = _read_config_dict(Path(folder))
    num_labels = config.get("num_labels")
    if not isinstance(num_labels, int):
        id2label = config.get("id2label")
        num_labels = len(id2label) if isinstance(id2label, dict) and id2label else 2
    return build_model(Path(folder), head=head, num_labels=num_labels, backend=backend)


def save_model(model: Any, folder: Path) -> None:
    """Write ``model`` as ``config.json`` + ``model.safetensors`` (both backends load it)."""
    if backend_of(model) == "keras3":
        model.save_pretrained(folder)
        return
    with _quiet_transformers():
        model.save_pretrained(str(folder), safe_serialization=True)


def set_output_bias(model: Any, bias: Any) -> None:
    """Set the bias of the task head's output layer (the last Dense with one unit per output).

    Used to start a multi-label head at the labels' prior log-odds instead of 0.5 everywhere.
    """
    import numpy as np

    if backend_of(model) == "keras3":
        layer = model.output_layer
        layer.bias.assign(np.asarray(bias, dtype="float32").reshape(tuple(layer.bias.shape)))
        return
    import tf_keras

    k = int(model.config.num_labels)
    main = getattr(model, model.base_model_prefix, None)
    found = None
    for layer in model.layers:
        if layer is main:
            continue
        for sub in [layer, *getattr(layer, "submodules", ())]:
            if isinstance(sub, tf_keras.layers.Dense) and sub.units == k and sub.use_bias:
                found = sub
    if found is None or found.bias is None:
        raise ConfigError(f"Cannot find the output layer of {type(model).__name__} to initialise its bias.")
    found.bias.assign(np.asarray(bias, dtype=found.bias.dtype.as_numpy_dtype).reshape(k))


def backbone(model: Any) -> Any:
    """The model's backbone layer (the encoder without its task head), on either backend.

    ``model.backbone`` for a Keras 3 encoder, the main layer named by ``base_model_prefix``
    (``model.bert``, ``model.roberta``, ...) for a transformers TF model.
    """
    if backend_of(model) == "keras3":
        return model.backbone
    main = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if main is None:
        raise ConfigError(f"Cannot find the backbone of {type(model).__name__}.")
    return main


def last_hidden_state(model: Any, inputs: dict, *, training: bool = False) -> Any:
    """The backbone's last hidden state ``[batch, seq, hidden]`` for ``inputs``, on either backend.

    ``inputs`` is a dict of token-id tensors (``input_ids``, ``attention_mask``, optionally
    ``token_type_ids``), as a model's ``call`` takes them. The task head, if any, is not run.
    """
    if backend_of(model) == "keras3":
        return model.encode(inputs, training=training)
    output = backbone(model)(**inputs, training=training)
    hidden = getattr(output, "last_hidden_state", None)
    return output[0] if hidden is None else hidden


def hidden_size(model: Any) -> int:
    """Width of the backbone's hidden states (the size of an embedding), on either backend."""
    config = getattr(model, "config", None)
    size = getattr(config, "hidden_size", None)
    if not isinstance(size, int):
        raise ConfigError(f"Cannot find the hidden size of {type(model).__name__} (no config.hidden_size).")
    return size


def base_layers(model: Any) -> tuple[Any, list]:
    """Return ``(embeddings, [encoder blocks])`` of a model's backbone."""
    if backend_of(model) == "keras3":
        return model.backbone.embeddings, list(model.backbone.blocks)
    main = getattr(model, model.base_model_prefix, None)
    if main is None:
        raise ConfigError(f"Cannot find the backbone of {type(model).__name__} to freeze.")
    embeddings = getattr(main, "embeddings", None)
    for container, attr in (("encoder", "layer"), ("transformer", "layer"), ("encoder", "layers")):
        blocks = getattr(getattr(main, container, None), attr, None)
        if blocks is not None:
            return embeddings, list(blocks)
    raise ConfigError(f"Cannot find the encoder blocks of {type(model).__name__} to freeze.")


def set_frozen(model: Any, n_blocks: int | None) -> None:
    """Freeze the embeddings and the first ``n_blocks`` encoder blocks (all when ``None``).

    ``n_blocks=0`` with ``None`` embeddings unfreezes everything; see :meth:`Learner.freeze`.
    """
    main = backbone(model)
    main.trainable = True
    if backend_of(model) == "keras3":
        # Keras 3 on TensorFlow skips `layer.trainable = True` when the layer already is trainable,
        # so it would not reach sublayers frozen by an earlier call: unfreeze each one explicitly
        for layer in main._flatten_layers(include_self=False):
            layer.trainable = True
    if n_blocks == 0:
        return
    embeddings, blocks = base_layers(model)
    if n_blocks is None:
        main.trainable = False
        return
    if not 0 < n_blocks <= len(blocks):
        raise ConfigError(f"`n_blocks` must lie in [1, {len(blocks)}] for this model. Received: {n_blocks}")
    if embeddings is not None:
        embeddings.trainable = False
    for block in blocks[:n_blocks]:
        block.trainable = False


def head_variables(model: Any) -> list:
    """The trainable variables of a model's task head: all of its trainable variables that are
    not its backbone's (the classifier, and DistilBERT's pre-classifier or RoBERTa's dense layer).

    These are the weights a fine-tune initialises at random; :class:`~easytx.Learner` trains
    them at ``head_lr_multiplier`` times the learning rate.
    """
    body = {id(v) for v in backbone(model).trainable_variables}
    return [v for v in model.trainable_variables if id(v) not in body]


def no_decay_variables(model: Any) -> list:
    """A Keras 3 model's variables that AdamW must not decay: LayerNorm weights and biases."""
    import keras

    out: list = []
    seen: set = set()
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.LayerNormalization):
            chosen = list(layer.weights)
        else:
            chosen = [w for w in layer._trainable_variables if w.name == "bias"]
        for weight in chosen:
            if id(weight) not in seen:
                seen.add(id(weight))
                out.append(weight)
    return out


def rebuild(model: Any) -> Any:
    """A new model of the same architecture and head, built in the current scope and dtype policy."""
    if backend_of(model) == "keras3":
        from .encoders.model import build_model as build_encoder

        return build_encoder(model.config, model.head_name)
    clone = type(model)(model.config)
    clone(clone.dummy_inputs, training=False)
    return clone
