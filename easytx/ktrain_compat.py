"""Convert a ktrain Transformer predictor folder into an easytx predictor, without unpickling it.

A folder written by ktrain's ``predictor.save(path)`` for a ``text.Transformer`` model (ktrain
0.26.3 to 0.41) holds, side by side::

    config.json        Hugging Face model config       (read: JSON)
    tf_model.h5        Hugging Face TF weights          (read: arrays only, with h5py)
    tokenizer files    tokenizer.json, vocab.txt, ...   (read: JSON/text)
    tf_model.preproc   ktrain's preprocessor, a PICKLE  (never opened)

The pickle holds the class names and ``maxlen``; unpickling a file can run arbitrary code, so
easytx never does, and asks for them instead. Only the files above (and no symbolic links) are
copied into a staging folder, checked (no remote-code JSON, a weights-only ``.h5``), loaded, and
saved as an easytx predictor.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import artifacts
from .bindings import bind
from .errors import ArtifactError, ConfigError

logger = logging.getLogger(__name__)

__all__ = ["convert_ktrain_predictor", "KTRAIN_TOKENIZER_FILES"]

#: tokenizer files copied from a ktrain predictor folder (what ``save_pretrained`` writes)
KTRAIN_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)


def _copy_regular(src: Path, dst_folder: Path) -> Path:
    if src.is_symlink():
        raise ArtifactError(f"{src} is a symbolic link; a ktrain predictor folder holds plain files.")
    dst = dst_folder / src.name
    shutil.copyfile(src, dst)
    return dst


def convert_ktrain_predictor(
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    class_names: Sequence[str],
    maxlen: int | None = None,
    tokenizer: str | os.PathLike | None = None,
    batch_size: int = 32,
) -> Any:
    """Turn a ktrain Transformer predictor folder into an easytx predictor saved at ``out``.

    Parameters
    ----------
    folder : path
        The folder ktrain's ``predictor.save()`` wrote (with ``tf_model.preproc``).
    out : path
        Where to save the easytx predictor (written atomically).
    class_names : list of str
        The classes in the order ktrain used (``predictor.get_classes()`` where ktrain still runs;
        for string labels, ktrain sorts them). Their number must match the model's outputs.
    maxlen : int, optional
        The ``maxlen`` the model was trained with (ktrain's ``Transformer(..., maxlen=...)``);
        default: the model's limit (at most 512), with a warning.
    tokenizer : str or path, optional
        Only for folders without tokenizer files (ktrain before 0.26.3 did not save them): the hub
        name or local folder of the model that was fine-tuned, e.g. ``"distilbert-base-uncased"``.
    batch_size : int
        The converted predictor's batch size.

    Returns
    -------
    Predictor
        The converted predictor, loaded back from ``out``.

    Raises
    ------
    ArtifactError
        ``folder`` is not a ktrain Transformer predictor, or holds something that could run code.
    ConfigError
        ``class_names`` or ``maxlen`` do not fit the model.

    Examples
    --------
    >>> p = easytx.convert_ktrain_predictor("ktrain_predictor", "easytx_predictor",
    ...                                     class_names=["neg", "pos"], maxlen=128)  # doctest: +SKIP
    """
    from . import backend
    from .data import check_positive_int
    from .labels import ClassLabels
    from .predictor import Predictor, load_predictor
    from .preprocess import Transformer

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ArtifactError(f"No ktrain predictor folder at {folder}.")
    if not (folder / "tf_model.preproc").exists():
        raise ArtifactError(
            f"{folder} is not a ktrain predictor folder (no tf_model.preproc). An easytx predictor "
            "loads with easytx.load_predictor()."
        )
    weights, config = folder / "tf_model.h5", folder / "config.json"
    if not weights.is_file():
        raise ArtifactError(f"{folder} has no tf_model.h5, the weights this converter reads.")
    if not config.is_file():
        raise ArtifactError(
            f"{folder} has tf_model.h5 but no config.json: it is a ktrain predictor for a model that "
            "is not a Hugging Face transformer (fasttext, nbsvm, BiGRU, ...), saved as a whole Keras "
            "model. Only text.Transformer predictors can be converted."
        )
    if isinstance(class_names, str) or class_names is None or len(class_names) < 2:
        raise ConfigError(
            "`class_names` must list the classes in ktrain's order (at least two). Received: "
            f"{class_names!r}. Where ktrain still runs, predictor.get_classes() gives them."
        )
    names = [str(c) for c in class_names]
    if len(set(names)) != len(names):
        raise ConfigError(f"`class_names` has duplicates: {names}.")
    check_positive_int(batch_size, "batch_size")
    if maxlen is not None:
        check_positive_int(maxlen, "maxlen")

    with tempfile.TemporaryDirectory(prefix="easytx-ktrain-") as tmp:
        staging = Path(tmp)
        _copy_regular(config, staging)
        artifacts.check_h5_weights_only(weights)
        _copy_regular(weights, staging)
        found = [folder / n for n in KTRAIN_TOKENIZER_FILES if (folder / n).exists()]
        if not found:
            if tokenizer is None:
                raise ArtifactError(
                    f"{folder} holds no tokenizer files (ktrain before 0.26.3 did not save them). "
                    "Pass tokenizer=... : the hub name or local folder of the model that was "
                    "fine-tuned (e.g. 'distilbert-base-uncased')."
                )
            source = backend.resolve_model_source(tokenizer)
            found = [source / n for n in KTRAIN_TOKENIZER_FILES if (source / n).is_file()]
        for path in found:
            _copy_regular(path, staging)
        for path in staging.iterdir():
            if path.suffix != ".h5":  # the weights file was checked above
                artifacts.check_no_code(path)
        num_labels = backend.load_config(staging).num_labels
        if num_labels != len(names):
            raise ConfigError(
                f"The model in {folder} has {num_labels} outputs but class_names lists {len(names)} "
                f"classes: {names}. Pass the classes the model was trained on, in ktrain's order."
            )
        preproc = Transformer(str(folder), maxlen=maxlen or "auto", class_names=names, verbose=0)
        preproc._source = staging
        preproc.tokenizer  # noqa: B018 - loads it and checks it fits the model's vocabulary
        limit = preproc.model_limit_
        if maxlen is None:
            maxlen = min(512, limit)
            logger.warning(
                "maxlen not given: using %d tokens. Pass the maxlen the ktrain model was trained "
                "with, or longer texts may be read differently than in training.",
                maxlen,
            )
        elif maxlen > limit:
            raise ConfigError(f"`maxlen`={maxlen} exceeds this model's limit of {limit} tokens.")
        preproc.maxlen_ = int(maxlen)
        preproc.labels_ = ClassLabels(names).fit(names)
        model = backend.build_model(
            staging,
            head="sequence_classification",
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            strict=True,
        )
        bind(model, task=preproc.task, preproc=preproc)
        Predictor(model, preproc, batch_size=batch_size).save(out)
    logger.info("Converted the ktrain predictor %s to %s (tf_model.preproc was not opened).", folder, out)
    return load_predictor(out)
