"""The :class:`Predictor`: predict, predict_proba, save and load (never imports the learner).

One Predictor class serves every engine: it holds a model and a fitted preprocessor, and the
engine is what the model is (a TensorFlow model, or an :class:`~easytx.onnx_engine.OnnxModel`
loaded by ``load_predictor(..., engine="onnx")``). Tokenization, batching and decoding are the
same code for all engines. Importing this module imports no TensorFlow; loading with an ONNX
engine never does.
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from . import (
    __version__,
    _env,  # noqa: F401
    artifacts,
    backend,
    distribute,
    model_card,
    onnx_engine,
)
from .bindings import bind, metrics_of, training_of
from .data import (
    PredictionWriter,
    check_positive_int,
    check_texts,
    iter_table_chunks,
    per_class_rows,
    table_format,
)
from .errors import ArtifactError, ConfigError, DataError, DataTypeError, EasytxError
from .inference import merge_windows, predict_logits
from .preprocess import Transformer
from .windows import check_window_pooling, check_windows

logger = logging.getLogger(__name__)

__all__ = ["Predictor", "get_predictor", "load_predictor"]


def _versions(backend_name: str | None = None) -> dict:
    """Library versions at save time (``keras`` or ``tf-keras``: the one the model's backend runs on)."""
    import importlib.metadata

    import tensorflow as tf
    import transformers

    out = {
        "easytx": __version__,
        "transformers": transformers.__version__,
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
    }
    package = {"keras3": "keras", "transformers": "tf-keras"}.get(backend_name or "")
    if package:
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


class Predictor:
    """Turns texts into answers with a trained model and its fitted preprocessor.

    Parameters
    ----------
    model : TF model or easytx.onnx_engine.OnnxModel
        The TensorFlow model (either backend), or an ONNX Runtime session wrapper (see
        :func:`load_predictor`'s ``engine``).
    preproc : Transformer
        The fitted preprocessor the model was trained with.
    batch_size : int
        Texts per forward pass; texts are sorted by length so batches hold similar lengths,
        then answers are returned in the input order.
    metrics : dict, optional
        Validation metrics stored with the predictor.
    training : list of dict, optional
        What the Learner recorded of each training call (recipe, per-epoch history, the epoch
        kept; see :meth:`easytx.Learner.fit_onecycle`), saved in ``easytx.json`` and shown by
        the model card (``README.md``) that :meth:`save` writes.
    verbose : int
        ``1`` shows a progress bar when predicting many texts (more than 20 batches);
        ``0`` silences it.
    windows : bool
        Texts longer than ``maxlen`` tokens are read in sliding windows of ``maxlen`` tokens
        overlapping by the preprocessor's ``stride`` (default ``maxlen // 4``), and answered from
        all of them (``True``, the default; an INFO log line says so the first time); ``False``
        truncates them, as easytx did before. Texts that fit are never affected; sentence pairs
        are always truncated. :meth:`predict`, :meth:`predict_proba`, :meth:`predict_file` and
        :meth:`evaluate` take ``windows=`` to override it for one call. See
        ``docs/long-texts.md``.
    window_pooling : {"mean", "max"}
        How the windows of a text make one answer for classification, multi-label and
        regression: the mean of the windows' probabilities (predicted values for regression),
        or each class's largest (for single-label classification rescaled to sum to 1). Token
        classification takes each word from the window where it has the most context.
    """

    def __init__(
        self,
        model: Any,
        preproc: Transformer,
        *,
        batch_size: int = 64,
        metrics: dict | None = None,
        training: list | None = None,
        verbose: int = 1,
        windows: bool = True,
        window_pooling: str = "mean",
    ):
        self.model = model
        self.preproc = preproc
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.metrics = dict(metrics or {})
        self.training = list(training or [])
        self.verbose = verbose
        self.windows = check_windows(windows)
        self.window_pooling = check_window_pooling(window_pooling)

    def __repr__(self) -> str:
        engine = "" if self.engine == "tf" else f", engine={self.engine!r}"
        return (
            f"Predictor(task={self.preproc.task.name!r}, classes={self.get_classes()!r}, "
            f"maxlen={self.preproc.maxlen_}{engine})"
        )

    @property
    def task(self):
        return self.preproc.task

    @property
    def engine(self) -> str:
        """``"tf"``, ``"onnx"`` or ``"onnx-int8"``: what runs the forward pass."""
        return getattr(self.model, "easytx_engine", "tf")

    def _require_tf(self, what: str) -> None:
        if self.engine != "tf":
            raise EasytxError(
                f"{what} needs the TensorFlow model, but this predictor runs on the {self.engine!r} "
                "engine (an ONNX graph). Load the folder with easytx.load_predictor(folder, engine='tf')."
            )

    def get_classes(self) -> list:
        """Class names in id order."""
        return self.preproc.get_classes()

    def _output_classes(self) -> list:
        """The name of each model output (class, label or target), whatever ``get_classes``
        answers in a subclass (ktrain's answers ``[]`` for regression)."""
        return list(self.preproc.labels_.classes_)

    def _texts(self, texts: Any) -> tuple[list, bool]:
        single = isinstance(texts, str) or (
            isinstance(texts, tuple) and len(texts) == 2 and all(isinstance(t, str) for t in texts)
        )
        if single:
            return [texts], True
        if texts is None:
            raise DataTypeError("predict() needs a text or a list of texts. Received: None.")
        if hasattr(texts, "__len__") and len(texts) == 0:
            return [], False
        return check_texts(texts, allow_empty_strings=True, allow_pairs=True), False

    def _use_windows(self, windows: bool | None) -> bool:
        """A call's ``windows=`` (``None``: the predictor's :attr:`windows`)."""
        return self.windows if windows is None else check_windows(windows)

    def predict_proba(
        self, texts: Any, *, verbose: int | None = None, windows: bool | None = None
    ) -> np.ndarray:
        """Probabilities, shape ``(n, n_classes)``: rows sum to 1 for single-label classification;
        independent per-label probabilities for multi-label; predicted values (in the targets'
        units) for regression.

        A single string gives shape ``(n_classes,)``. ``verbose=0`` silences the progress bar
        shown for many texts (default: the predictor's ``verbose``). ``windows`` overrides the
        predictor's :attr:`windows` for this call (``False``: long texts are truncated).
        """
        items, single = self._texts(texts)
        if not items:
            return np.zeros((0, len(self._output_classes())), dtype=np.float64)
        _, proba = self._encoded_and_proba(items, verbose=verbose, windows=windows)
        return proba[0] if single else proba

    def predict(
        self,
        texts: Any,
        return_proba: bool = False,
        *,
        verbose: int | None = None,
        windows: bool | None = None,
        **options: Any,
    ) -> Any:
        """Labels for a text (one label) or a list of texts (a list of labels, same order).

        Parameters
        ----------
        texts : str or list of str
        return_proba : bool
            Return :meth:`predict_proba` instead (ktrain's argument).
        verbose : int, optional
            ``0`` silences the progress bar (default: the predictor's ``verbose``).
        windows : bool, optional
            Read texts longer than ``maxlen`` in sliding windows (``True``) or truncate them
            (``False``); default: the predictor's :attr:`windows` (``True``).
        **options
            Task-specific decoding options, e.g. ``return_tokens=True`` for token classification
            (``(word, tag)`` pairs instead of entities; with ``return_scores=True`` and/or
            ``return_offsets=True`` also each word's tag probability and ``(start, end)``
            character span).
        """
        allowed = getattr(self.task, "decode_options", ())
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ConfigError(
                f"Unexpected argument(s) for predict(): {unknown}. The {self.task.name!r} task "
                f"accepts {list(allowed) or 'no extra options'}."
            )
        if return_proba:
            return self.predict_proba(texts, verbose=verbose, windows=windows)
        items, single = self._texts(texts)
        if not items:
            return []
        labels, _ = self._labels_and_proba(items, verbose=verbose, windows=windows, **options)
        return labels[0] if single else labels

    def predict_with_proba(
        self, texts: Any, *, verbose: int | None = None, windows: bool | None = None, **options: Any
    ) -> tuple[list, np.ndarray]:
        """Labels and the probabilities they come from, from one forward pass: what the CLI and
        the server answer with.

        Parameters
        ----------
        texts : list of str
            (a single string is taken as a list of one)
        verbose, windows, **options
            As for :meth:`predict`.

        Returns
        -------
        (labels, proba)
            ``labels`` as :meth:`predict` gives them for a list; ``proba`` as
            :meth:`predict_proba` (for token classification: per sub-token of each text).
        """
        items, _ = self._texts(texts)
        if not items:
            return [], np.zeros((0, len(self._output_classes())), dtype=np.float64)
        return self._labels_and_proba(items, verbose=verbose, windows=windows, **options)

    def _labels_and_proba(
        self, items: list, *, verbose: int | None = None, windows: bool | None = None, **options: Any
    ) -> tuple:
        """The task's answers and the probabilities they come from, for checked ``items``."""
        data, proba = self._encoded_and_proba(items, verbose=verbose, windows=windows)
        labels = self.task.decode(proba, self.preproc.labels_, texts=items, inputs=data, **options)
        return labels, proba

    def _encoded_and_proba(
        self, items: list, *, verbose: int | None = None, windows: bool | None = None
    ) -> tuple:
        """The tokenized ``items`` (one row per text) and the task's probabilities for them (one
        forward pass; the windows of long texts pooled, see :func:`easytx.inference.merge_windows`)."""
        data = self.preproc.encode_for_prediction(items, windows=self._use_windows(windows))
        verbose = self.verbose if verbose is None else verbose
        logits = predict_logits(
            self.model,
            data,
            batch_size=self.batch_size,
            progress=bool(verbose) and len(data) > 20 * self.batch_size,
        )
        proba = self.task.probabilities(logits, labels=self.preproc.labels_)
        proba, data = merge_windows(self.task, proba, data, how=self.window_pooling)
        return data, proba

    def embed(
        self,
        texts: Any,
        *,
        pooling: str = "mean",
        normalize: bool = False,
        batch_size: int | None = None,
        verbose: int | None = None,
    ) -> np.ndarray:
        """One vector per text from the fine-tuned model's encoder: float32, shape ``(n, hidden)``.

        The texts are tokenized and batched as for :meth:`predict` (sorted by length, each batch
        padded to its longest text, vectors returned in the input order); the encoder's last hidden
        state is pooled per text instead of running the task head. Texts longer than ``maxlen``
        tokens are truncated, as for prediction.

        Parameters
        ----------
        texts : str or list of str
            A single string gives shape ``(hidden,)``. Pairs ``(text_a, text_b)`` work for a pair
            model.
        pooling : {"mean", "cls"}
            ``"mean"``: the average of the text's token vectors (padding excluded);
            ``"cls"``: the first token's vector.
        normalize : bool
            Scale each vector to unit length (dot products are then cosine similarities).
        batch_size : int, optional
            Texts per forward pass (default: the predictor's).
        verbose : int, optional
            ``0`` silences the progress bar (default: the predictor's ``verbose``).

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ConfigError
            An unknown ``pooling``, or a predictor on an ONNX engine (its graph outputs the logits
            only: load it with ``engine="tf"``).

        Examples
        --------
        >>> vectors = predictor.embed(["a great film", "a dull plot"], normalize=True)  # doctest: +SKIP
        >>> vectors.shape, float(vectors[0] @ vectors[1])  # doctest: +SKIP
        ((2, 384), 0.41)
        """
        from .inference import check_pooling, predict_embeddings

        check_pooling(pooling)
        batch_size = check_positive_int(self.batch_size if batch_size is None else batch_size, "batch_size")
        items, single = self._texts(texts)
        data = self.preproc.encode_for_prediction(items)
        verbose = self.verbose if verbose is None else verbose
        vectors = predict_embeddings(
            self.model,
            data,
            pooling=pooling,
            normalize=normalize,
            batch_size=batch_size,
            progress=bool(verbose) and len(items) > 20 * batch_size,
        )
        return vectors[0] if single else vectors

    def evaluate(
        self, texts: Any, labels: Any, *, print_report: bool = True, windows: bool | None = None
    ) -> dict:
        """Score labelled texts with the task's headline metrics (and print its report).

        ``windows`` overrides the predictor's :attr:`windows` for this call: texts longer than
        ``maxlen`` are scored on the answer pooled over their windows, as :meth:`predict` gives it.

        Returns
        -------
        dict
            e.g. ``{"accuracy": ..., "macro_f1": ...}``, ``{"micro_f1": ..., "macro_f1": ...}``
            or ``{"mae": ..., "rmse": ...}``.
        """
        data = self.preproc.preprocess_test(texts, labels, windows=self._use_windows(windows))
        # score the rows as preprocess_test tokenized them (for a tagger, word lists whose
        # labels sit on the first sub-tokens); windows pooled back into one row per text
        logits = predict_logits(self.model, data, batch_size=self.batch_size)
        proba = self.task.probabilities(logits, labels=self.preproc.labels_)
        proba, data = merge_windows(self.task, proba, data, how=self.window_pooling)
        if print_report:
            text, _ = self.task.report(data.y, proba, self.preproc.labels_)
            sys.stdout.write(text.rstrip("\n") + "\n")
        return self.task.scores(data.y, proba, self.preproc.labels_)

    def tune_thresholds(self, texts: Any, labels: Any, **options: Any) -> list[float]:
        """Multi-label only: set each label's decision threshold to maximise its F1 on
        ``(texts, labels)`` (held-out data, not the training set); saved with the predictor.

        Returns the thresholds in class order. ``options`` go to
        :meth:`easytx.tasks.MultiLabel.tune_thresholds` (``grid=``).
        """
        if not hasattr(self.task, "tune_thresholds"):
            raise EasytxError(
                f"tune_thresholds() applies to multi-label predictors; this one's task is {self.task.name!r}."
            )
        data = self.preproc.preprocess_test(texts, labels, windows=False)  # one row per text
        proba = self.predict_proba(list(data.texts), verbose=0)
        return self.task.tune_thresholds(data.y, proba, **options)

    def predict_file(
        self,
        in_path: str | os.PathLike,
        out_path: str | os.PathLike,
        *,
        text_column: str = "text",
        batch_size: int | None = None,
        chunk_rows: int | None = None,
        format: str | None = None,
        out_format: str | None = None,
        encoding: str = "utf-8",
        return_proba: bool = True,
        windows: bool | None = None,
    ) -> int:
        """Predict every row of a CSV/TSV/JSONL file into another file, streaming both.

        The input is read ``chunk_rows`` rows at a time (default ``32 * batch_size``), each chunk
        is predicted (sorted by length, batched, order restored) and its rows written out before
        the next chunk is read, so memory stays constant whatever the file's size. Output rows
        keep the input's columns and add ``prediction`` (and, with ``return_proba``, one
        ``proba_<class>`` column per class in CSV/TSV, a ``probabilities`` object in JSONL), in
        the input order. The output is written to ``<out_path>.partial`` and renamed when
        complete.

        Parameters
        ----------
        in_path, out_path : path
            Formats come from the extensions (``.csv``, ``.tsv``, ``.jsonl``) or
            ``format``/``out_format``.
        text_column : str
            Column (CSV/TSV header) or field (JSONL) holding the text.
        batch_size : int, optional
            Texts per forward pass (default: the predictor's).
        windows : bool, optional
            Read texts longer than ``maxlen`` in sliding windows (default: the predictor's
            :attr:`windows`), as for :meth:`predict`.

        Returns
        -------
        int
            Rows written.

        Examples
        --------
        >>> predictor.predict_file("reviews.csv", "predicted.csv", text_column="review")  # doctest: +SKIP
        2000000
        """
        in_path, out_path = Path(in_path), Path(out_path)
        in_fmt, out_fmt = table_format(in_path, format), table_format(out_path, out_format)
        if out_path.exists() and in_path.exists() and os.path.samefile(in_path, out_path):
            raise DataError(f"predict_file would overwrite its input {in_path}; choose another out_path.")
        batch_size = check_positive_int(batch_size or self.batch_size, "batch_size")
        chunk_rows = check_positive_int(chunk_rows or 32 * batch_size, "chunk_rows")
        use_windows = self._use_windows(windows)
        classes = self._output_classes()
        previous, self.batch_size = self.batch_size, batch_size
        partial = out_path.with_name(out_path.name + ".partial")
        rows = 0
        try:
            with open(partial, "w", encoding="utf-8", newline="") as handle:
                writer = PredictionWriter(handle, out_fmt, classes, proba=return_proba)
                for chunk in iter_table_chunks(
                    in_path, columns=[text_column], chunk_rows=chunk_rows, format=in_fmt, encoding=encoding
                ):
                    texts = []
                    for offset, record in enumerate(chunk):
                        value = record[text_column]
                        if value is None:
                            value = ""
                        if not isinstance(value, str):
                            raise DataError(
                                f"{in_path}, row {rows + offset + 1}: {text_column!r} holds a "
                                f"{type(value).__name__}, not a string."
                            )
                        texts.append(value)
                    labels, proba = (
                        self._labels_and_proba(texts, verbose=0, windows=use_windows) if texts else ([], [])
                    )
                    # per-class values where the task gives one row per text (a tagger's are per token)
                    per_class = per_class_rows(proba)
                    for record, label, p in zip(chunk, labels, proba):
                        writer.write(record, label, p if per_class else None)
                    rows += len(chunk)
                    logger.debug("predict_file: %d rows done", rows)
            os.replace(partial, out_path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            self.batch_size = previous
        logger.info("predict_file wrote %d rows to %s.", rows, out_path)
        return rows

    def explain(
        self,
        text: str,
        *,
        target: Any = None,
        output: str = "proba",
        baseline: str = "pad",
        n_steps: int = 48,
        max_steps: int = 1024,
        tolerance: float = 0.01,
        batch_size: int = 32,
    ) -> Any:
        """Which words made the model choose its class: integrated gradients over the embeddings.

        Parameters
        ----------
        text : str
            One text.
        target : class name or index, optional
            Explain this class's output instead of the predicted class's.
        output : {"proba", "logit"}
            Explain the class probability (scores add up to its change from the baseline) or
            the logit.
        baseline : {"pad", "mask", "zero"}
            What the words are compared against (special tokens are kept in the baseline).
        n_steps : int
            Gradient evaluations on the first, even, grid along the path.
        max_steps : int
            Most gradient evaluations spent refining the path where the scores do not yet add up
            (see :mod:`easytx.explain`).
        tolerance : float
            Refine until the completeness error is below ``tolerance`` times the output's change
            between the baseline and the text.
        batch_size : int
            Path points per forward/backward pass.

        Returns
        -------
        easytx.explain.Explanation
            ``words``, ``scores`` (one per word), ``predicted_class``, ``target_class``,
            ``delta`` (completeness error); ``.to_html()`` shades the words, and a notebook
            shows that HTML when the result is a cell's value.

        Examples
        --------
        >>> exp = predictor.explain("Free entry to win a prize!")  # doctest: +SKIP
        >>> exp.top(3)  # doctest: +SKIP
        [('win', 0.31), ('prize', 0.22), ('Free', 0.12)]
        """
        self._require_tf("explain()")
        from .explain import explain_text

        return explain_text(
            self.model,
            self.preproc,
            text,
            target=target,
            output=output,
            baseline=baseline,
            n_steps=n_steps,
            max_steps=max_steps,
            tolerance=tolerance,
            batch_size=batch_size,
        )

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | os.PathLike, *, onnx: bool | str = False, opset: int | None = None) -> Path:
        """Save to ``folder`` atomically (see :mod:`easytx.artifacts` for the format).

        The folder gets a model card, ``README.md``, written from what the predictor knows
        (:func:`easytx.model_card.render_model_card`: task, labels, base model, maximum length,
        backend, training recipe and history, validation metrics, versions, date); it is listed
        and checksummed in ``easytx.json`` like every other file.

        Under multi-worker training only the chief writes; the other workers return ``folder``
        without writing (see ``docs/distributed.md``).

        Parameters
        ----------
        folder : path
        onnx : bool or "int8"
            ``True`` also writes ``model.onnx``, the graph of the ONNX engine
            (``load_predictor(folder, engine="onnx")``, which needs no TensorFlow); ``"int8"``
            writes it and ``model.int8.onnx``, its dynamically quantized copy
            (``engine="onnx-int8"``). Both are listed and checksummed in ``easytx.json`` like
            every other file. Needs tf2onnx and onnx (``pip install 'easytx-nlp[onnx]'``).
        opset : int, optional
            ONNX opset of the graphs (default :data:`easytx.export.DEFAULT_OPSET`).

        Examples
        --------
        >>> predictor.save("my_predictor", onnx="int8")  # doctest: +SKIP
        >>> fast = easytx.load_predictor("my_predictor", engine="onnx-int8")  # doctest: +SKIP
        """
        self._require_tf("save()")
        graphs = onnx_engine.check_save_option(onnx)
        if graphs:
            from .export import DEFAULT_OPSET, check_opset, import_tf2onnx

            import_tf2onnx()  # a missing extra is said before anything is written
            opset = check_opset(DEFAULT_OPSET if opset is None else opset)
            if "onnx-int8" in graphs:
                onnx_engine._import_onnxruntime()
        elif opset is not None:
            raise ConfigError(
                f"`opset` applies to ONNX graphs; pass onnx=True or onnx='int8'. Received: opset={opset!r}"
            )
        if not distribute.is_chief(getattr(self.model, "distribute_strategy", None)):
            logger.info("Not the chief worker: the chief saves the predictor to %s.", folder)
            return Path(folder).expanduser().absolute()
        onnx_section: dict = {}
        name = Path(folder).expanduser().absolute().name

        def write_parts(tmp: Path) -> None:
            backend.save_model(self.model, tmp / "model")
            self.preproc.save_tokenizer(tmp / "tokenizer")
            if graphs:
                onnx_section.update(self._write_graphs(tmp, graphs, opset))
            card = model_card.render_model_card(manifest, folder_name=name)
            (tmp / model_card.MODEL_CARD).write_text(card, encoding="utf-8")

        backend_name = backend.backend_of(self.model)
        manifest = {
            "format": "easytx-predictor",
            "versions": _versions(backend_name),
            "saved_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "task": self.task.name,
            "task_config": self.task.get_config(),
            "head": self.task.head,
            "backend": backend_name,
            "preprocessing": self.preproc.to_dict(),
            "classes": [c if isinstance(c, (str, int, bool)) else str(c) for c in self._output_classes()],
            "metrics": self.metrics,
            "training": self.training,
            "batch_size": self.batch_size,
        }
        if graphs:  # filled in by write_parts, before write_folder writes the manifest
            manifest["onnx"] = onnx_section
        return artifacts.write_folder(folder, write_parts, manifest)

    def _write_graphs(self, tmp: Path, graphs: tuple[str, ...], opset: int) -> dict:
        """Write the ONNX engines' graphs into the folder being saved; return easytx.json's entry."""
        import onnx as onnx_package
        import tf2onnx

        from .export import calibration_feeds, quantize_int8, write_onnx_graph

        fp32 = tmp / onnx_engine.GRAPH_FILES["onnx"]
        info = write_onnx_graph(self, fp32, opset=opset)
        if "onnx-int8" in graphs:
            # random words of the model's own vocabulary find its outlier channels (no data needed)
            rust = getattr(getattr(self.preproc, "tokenizer", None), "backend_tokenizer", None)
            feeds = None
            if rust is not None and hasattr(self.preproc, "_pad_id"):
                feeds = calibration_feeds(
                    rust, info["inputs"], maxlen=self.preproc.maxlen_, pad_id=self.preproc._pad_id()
                )
            info["int8"] = quantize_int8(fp32, tmp / onnx_engine.GRAPH_FILES["onnx-int8"], feeds)
        versions = {"tf2onnx": tf2onnx.__version__, "onnx": onnx_package.__version__}
        try:
            import onnxruntime

            versions["onnxruntime"] = onnxruntime.__version__
        except ImportError:
            pass
        logger.info("Wrote the ONNX graph(s) %s.", ", ".join(onnx_engine.GRAPH_FILES[g] for g in graphs))
        return {"graphs": {g: onnx_engine.GRAPH_FILES[g] for g in graphs}, **info, "versions": versions}

    def export(self, folder: str | os.PathLike, format: str = "saved_model", **options: Any) -> Path:
        """Export for serving without easytx: ``"saved_model"`` (TF Serving) or ``"onnx"``.

        The exported model takes token ids; the tokenizer ships with it. See
        :func:`easytx.export.export_predictor` for the layout and options (``opset``, ``overwrite``).
        """
        self._require_tf("export()")
        from .export import export_predictor

        return export_predictor(self, folder, format, **options)

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike,
        *,
        batch_size: int | None = None,
        backend: str | None = None,
        engine: str = "auto",
        intra_op_threads: int | None = None,
        inter_op_threads: int | None = None,
        allow_spinning: bool | None = None,
    ) -> Predictor:
        """Load a predictor saved by :meth:`save` (offline; verifies schema and checksums).

        Nothing in the folder is executed: see :func:`easytx.artifacts.read_manifest` for the
        checks. A damaged or inconsistent folder raises :class:`ArtifactError` naming the file.
        A save that replaces the folder while it loads makes the load start again, so the model
        and tokenizer always come from the same save.

        Parameters
        ----------
        folder : path
        batch_size : int, optional
            Texts per forward pass (default: the saved value).
        backend : {"auto", "keras3", "transformers"}, optional
            The TensorFlow model backend (``None``: ``EASYTX_BACKEND``), whichever one saved the
            folder (``easytx.json`` records that one). Naming one makes ``engine="auto"`` load
            the TensorFlow model.
        engine : {"auto", "tf", "onnx", "onnx-int8"}
            What runs the model: TensorFlow, or ONNX Runtime on the graph that
            ``save(onnx=True)`` (``"onnx"``) or ``save(onnx="int8")`` (``"onnx-int8"``) wrote;
            the ONNX engines import no TensorFlow, Keras or transformers. ``"auto"``: ``"onnx"``
            when the folder holds ``model.onnx`` and onnxruntime is installed, else ``"tf"``.
            See :mod:`easytx.onnx_engine`.
        intra_op_threads, inter_op_threads : int, optional
            ONNX engines only: onnxruntime's thread pools (default: one intra-op thread per
            physical core). For TensorFlow use ``tf.config.threading`` before loading.
        allow_spinning : bool, optional
            ONNX engines only: let onnxruntime's idle pool threads spin-wait for work
            (onnxruntime's default) instead of sleeping (easytx's default, ``None``/``False``).
            Faster on a machine that runs nothing else, slower when other processes need the
            cores; see :func:`easytx.onnx_engine.session_options`.
        """
        path = Path(folder).expanduser()
        if allow_spinning is not None and not isinstance(allow_spinning, bool):
            raise ConfigError(f"`allow_spinning` must be a bool. Received: allow_spinning={allow_spinning!r}")
        options = {
            "intra_op_threads": intra_op_threads,
            "inter_op_threads": inter_op_threads,
            "allow_spinning": allow_spinning,
        }
        onnx_engine.check_engine(engine)
        for attempt in range(3):
            before = artifacts.folder_identity(path)
            try:
                predictor, identity, loaded_from = cls._load_once(
                    folder, batch_size, backend, engine, options
                )
            except ArtifactError:
                if attempt < 2 and artifacts.folder_identity(path) != before:
                    continue  # replaced by a save while loading: load the new one
                raise
            if artifacts.folder_identity(loaded_from) == identity:
                return predictor
        raise ArtifactError(f"{folder} kept changing while it was loaded (saves in quick succession).")

    @classmethod
    def _load_once(
        cls,
        folder: str | os.PathLike,
        batch_size: int | None,
        backend_name: str | None,
        engine: str = "tf",
        options: dict | None = None,
    ) -> tuple:
        meta, folder, identity = artifacts.verify_folder(folder)
        engine = onnx_engine.resolve_engine(engine, meta, folder=folder, backend=backend_name)
        options = {k: v for k, v in (options or {}).items() if v is not None}
        if options and engine == "tf":
            raise ConfigError(
                f"{sorted(options)} set onnxruntime's thread pools, but this predictor loads with the "
                "TensorFlow engine. Pass engine='onnx' (a folder saved with onnx=True), or set "
                "TensorFlow's threads with tf.config.threading before loading."
            )
        if batch_size is None:
            batch_size = meta.get("batch_size", 64)
        check_positive_int(batch_size, "batch_size")
        try:
            preprocessing, head, task = meta["preprocessing"], meta["head"], meta["task"]
        except KeyError as exc:
            raise ArtifactError(f"{folder}/easytx.json lacks the entry {exc}.") from None
        loader = None
        if engine == "tf":
            onnx_engine.require_tensorflow(folder)
        else:  # the tokenizer.json read by the tokenizers package: no transformers
            from functools import partial

            from .tokenizer_json import load_json_tokenizer

            loader = partial(load_json_tokenizer, input_names=list(preprocessing.get("input_names") or []))
        try:
            preproc = Transformer.from_dict(preprocessing, folder / "tokenizer", tokenizer_loader=loader)
        except ArtifactError:
            raise
        except Exception as exc:  # noqa: BLE001 - tokenizers raise bare Exceptions on bad files
            raise ArtifactError(
                f"The tokenizer in {folder / 'tokenizer'} or the preprocessing entry of "
                f"{folder / 'easytx.json'} cannot be used: {type(exc).__name__}: {exc}"
            ) from exc
        if engine == "tf":
            model = cls._load_tf_model(folder, head, backend_name)
            found = getattr(getattr(model, "config", None), "num_labels", None)
            where = folder / "model" / "config.json"
        else:
            model = onnx_engine.load_onnx_model(folder, meta, engine, **options)
            found, where = model.n_outputs, model.path
        expected = getattr(preproc.labels_, "n_outputs", None)
        if isinstance(expected, int) and isinstance(found, int) and expected != found:
            raise ArtifactError(
                f"{where} gives the model {found} outputs but "
                f"{folder / 'easytx.json'} describes {expected}: the files do not belong together."
            )
        if preproc.task.name != task:
            raise ArtifactError(
                f"{folder / 'easytx.json'} names the task {task!r} but its preprocessing entry builds "
                f"a {preproc.task.name!r} task: the manifest was edited or damaged. Save the predictor again."
            )
        bind(model, task=preproc.task, preproc=preproc)
        training = meta.get("training") if isinstance(meta.get("training"), list) else None  # older saves
        predictor = cls(model, preproc, batch_size=batch_size, metrics=meta.get("metrics"), training=training)
        return predictor, identity, folder

    @staticmethod
    def _load_tf_model(folder: Path, head: str, backend_name: str | None) -> Any:
        try:
            return backend.load_model(folder / "model", head=head, backend=backend_name)
        except ArtifactError:
            raise
        except EasytxError as exc:
            raise ArtifactError(f"The model in {folder / 'model'} cannot be loaded: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - safetensors/h5py/TF raise many classes
            weights = sorted(p.name for p in (folder / "model").glob("*.safetensors"))
            raise ArtifactError(
                f"The model weights in {folder / 'model'} ({', '.join(weights) or 'no weights file'}) "
                f"cannot be loaded: {type(exc).__name__}: {str(exc)[:300]}"
            ) from exc


def get_predictor(model: Any, preproc: Transformer, batch_size: int = 64) -> Predictor:
    """Pair a trained model with its preprocessor (ktrain's ``get_predictor``)."""
    if not isinstance(preproc, Transformer):
        raise DataTypeError(
            f"`preproc` must be the easytx Transformer used for training. Received: {type(preproc).__name__}."
        )
    preproc._check_fitted()
    return Predictor(
        model, preproc, batch_size=batch_size, metrics=metrics_of(model), training=training_of(model)
    )


def load_predictor(
    folder: str | os.PathLike,
    batch_size: int | None = None,
    *,
    backend: str | None = None,
    engine: str = "auto",
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    allow_spinning: bool | None = None,
) -> Predictor:
    """Load a saved predictor (ktrain's ``load_predictor``); see :meth:`Predictor.load`.

    ``engine="onnx"`` / ``"onnx-int8"`` run the ONNX graphs of a folder saved with
    ``save(folder, onnx=True)`` / ``onnx="int8"`` on onnxruntime, without importing TensorFlow;
    ``"auto"`` (the default) picks ``"onnx"`` when the folder has the graph and onnxruntime is
    installed, else ``"tf"``.

    Examples
    --------
    >>> predictor = easytx.load_predictor("my_predictor", engine="onnx")  # doctest: +SKIP
    >>> predictor.predict("what a wonderful film")  # doctest: +SKIP
    'pos'
    """
    return Predictor.load(
        folder,
        batch_size=batch_size,
        backend=backend,
        engine=engine,
        intra_op_threads=intra_op_threads,
        inter_op_threads=inter_op_threads,
        allow_spinning=allow_spinning,
    )
