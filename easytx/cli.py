"""The ``easytx`` command line: train, evaluate, predict, info, export and serve.

Every sub-command has ``--help``. Mistakes in the input (a missing file or column, a bad option)
print one line ``easytx: error: ...`` on stderr and exit with status 1 (2 for unknown options), never
a traceback. TensorFlow loads only for the sub-commands that run a model with it (``info`` and ``--help``
stay fast); ``predict``, ``evaluate`` and ``serve`` with ``--engine onnx`` (or ``auto`` on a
folder saved with ONNX graphs) never import it.

Examples
--------
::

    easytx train reviews.csv --model distilbert-base-uncased --output my_predictor
    easytx predict my_predictor reviews_new.csv --output predictions.csv
    echo "what a wonderful film" | easytx predict my_predictor
    easytx serve my_predictor --port 8000
    easytx predict my_predictor reviews_new.csv --engine onnx-int8 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .errors import ConfigError, DataError, EasytxError, closest_match_hint

__all__ = ["main", "build_parser"]

PROG = "easytx"
logger = logging.getLogger(__name__)
_LINE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


# --------------------------------------------------------------------------- argument types
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _maxlen(text: str) -> int | str:
    return "auto" if text == "auto" else _positive_int(text)


def _learning_rate(text: str) -> float | str:
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (exclusive), got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in [0, 65535], got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1000], got {text!r}")
    return value


# --------------------------------------------------------------------------- parser
def _add_engine_options(p: argparse.ArgumentParser) -> None:
    from .onnx_engine import ENGINES

    p.add_argument(
        "--engine",
        choices=list(ENGINES),
        default="auto",
        help="what runs the model: tf, onnx or onnx-int8 (graphs written by save(onnx=...); no "
        "TensorFlow loaded); auto (default): onnx when the folder has model.onnx and onnxruntime "
        "is installed, else tf",
    )
    p.add_argument(
        "--threads",
        type=_positive_int,
        help="ONNX engines: onnxruntime intra-op threads (default: one per physical core)",
    )
    p.add_argument(
        "--spin",
        action="store_true",
        help="ONNX engines: let onnxruntime's idle threads spin-wait for work (faster on a machine "
        "that runs nothing else, slower when other processes need the cores; default: they sleep)",
    )
    p.add_argument(
        "--no-windows",
        action="store_true",
        help="truncate texts longer than the model's maxlen instead of reading them in sliding "
        "windows (the default; see docs/long-texts.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``easytx`` argument parser (sub-commands train, evaluate, predict, info, export, serve)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or log lines")

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fine-tune transformer text classifiers and use them: train, evaluate, predict, "
        "inspect, export and serve saved predictors.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # train ---------------------------------------------------------------------------------
    p = sub.add_parser(
        "train",
        parents=[common],
        help="fine-tune a model on a labelled CSV/TSV/JSONL file and save a predictor",
        description="Fine-tune MODEL on DATA (CSV, TSV or JSONL with a text and a label column), "
        "evaluate on a validation split, and save the predictor to --output.",
    )
    p.add_argument("data", metavar="DATA", help="training rows (.csv, .tsv or .jsonl)")
    p.add_argument("--model", required=True, help="hub name or local model folder")
    p.add_argument("--output", "-o", required=True, metavar="PREDICTOR_DIR", help="where to save")
    p.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    p.add_argument("--label-column", default="label", help="column holding the labels (default: label)")
    val = p.add_mutually_exclusive_group()
    val.add_argument("--val", metavar="DATA", help="validation rows (same columns)")
    val.add_argument(
        "--val-pct", type=_fraction, default=0.1, help="share of DATA held out for validation (default 0.1)"
    )
    p.add_argument("--maxlen", type=_maxlen, default="auto", help="tokens per text, or 'auto' (default)")
    p.add_argument("--epochs", type=_positive_int, default=2, help="training epochs (default 2)")
    p.add_argument(
        "--lr",
        type=_learning_rate,
        default=5e-5,
        help="peak learning rate (default 5e-5), or 'auto' to run the learning-rate finder first",
    )
    p.add_argument("--batch-size", type=_positive_int, default=32, help="texts per step (default 32)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--pooling",
        choices=["auto", "mean", "cls"],
        default="auto",
        help="what the classification head reads: the mean of the tokens or the first token; "
        "'auto' (default) takes the mean for sentence-transformers models that pool by mean",
    )
    p.set_defaults(handler=_cmd_train)

    # evaluate ------------------------------------------------------------------------------
    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a saved predictor on labelled data",
        description="Predict DATA's texts and compare with its labels: per-class report, confusion "
        "matrix and headline metrics (--json for machines).",
    )
    p.add_argument("predictor", metavar="PREDICTOR_DIR")
    p.add_argument("data", metavar="DATA", help="labelled rows (.csv, .tsv or .jsonl)")
    p.add_argument("--text-column", default="text", help="column holding the texts (default: text)")
    p.add_argument("--label-column", default="label", help="column holding the labels (default: label)")
    p.add_argument("--batch-size", type=_positive_int, help="texts per forward pass (default: saved)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    _add_engine_options(p)
    p.set_defaults(handler=_cmd_evaluate)

    # predict -------------------------------------------------------------------------------
    p = sub.add_parser(
        "predict",
        parents=[common],
        help="predict labels for texts from a file or stdin (streamed)",
        description="Read texts from INPUT (CSV/TSV/JSONL with --text-column, or one text per line) "
        "or from stdin, predict them in chunks with constant memory, and write one result per input "
        "row, in order, to --output or stdout. CSV/JSONL rows are passed through with a "
        "'prediction' field added (and 'proba_<class>' / 'probabilities' with --proba).",
    )
    p.add_argument("predictor", metavar="PREDICTOR_DIR")
    p.add_argument("input", metavar="INPUT", nargs="?", help="input file; '-' or absent: stdin")
    p.add_argument("--output", "-o", metavar="FILE", help="output file (default: stdout)")
    p.add_argument("--proba", action="store_true", help="also write class probabilities")
    p.add_argument("--text-column", default="text", help="CSV/JSONL field holding the texts (default: text)")
    p.add_argument(
        "--input-format",
        choices=["auto", "lines", "csv", "tsv", "jsonl"],
        default="auto",
        help="default: from the extension (.csv .tsv .jsonl; anything else and stdin: lines)",
    )
    p.add_argument(
        "--output-format",
        choices=["auto", "jsonl", "csv", "tsv", "labels"],
        default="auto",
        help="default: from --output's extension (.csv .tsv .jsonl, .txt: labels); stdout: jsonl",
    )
    p.add_argument("--chunk-size", type=_positive_int, default=256, help="texts read per chunk (default 256)")
    p.add_argument("--batch-size", type=_positive_int, help="texts per forward pass (default: saved)")
    _add_engine_options(p)
    p.set_defaults(handler=_cmd_predict)

    # info ----------------------------------------------------------------------------------
    p = sub.add_parser(
        "info",
        parents=[common],
        help="show a saved predictor's task, labels, model, versions and metrics",
        description="Verify a saved predictor (schema and checksums) and show what it holds. "
        "Does not load TensorFlow.",
    )
    p.add_argument("predictor", metavar="PREDICTOR_DIR")
    p.add_argument("--json", action="store_true", help="print easytx.json's facts as JSON")
    p.set_defaults(handler=_cmd_info)

    # export --------------------------------------------------------------------------------
    p = sub.add_parser(
        "export",
        parents=[common],
        help="export a saved predictor as a TF SavedModel or ONNX model",
        description="Write PREDICTOR_DIR as a TF SavedModel (for TF Serving) or an ONNX model, "
        "with its tokenizer. The exported model takes token ids (see docs/serving.md).",
    )
    p.add_argument("predictor", metavar="PREDICTOR_DIR")
    p.add_argument("output", metavar="OUTPUT_DIR")
    p.add_argument("--format", choices=["saved_model", "onnx"], default="saved_model")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTPUT_DIR")
    p.set_defaults(handler=_cmd_export)

    # serve ---------------------------------------------------------------------------------
    p = sub.add_parser(
        "serve",
        parents=[common],
        help="serve a saved predictor over HTTP (needs easytx-nlp[serve])",
        description="Serve PREDICTOR_DIR over HTTP: POST /predict, GET /health, GET /metadata, "
        "OpenAPI page at /docs. Concurrent requests are micro-batched.",
    )
    p.add_argument("predictor", metavar="PREDICTOR_DIR")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.add_argument("--no-batching", action="store_true", help="one forward pass per request")
    p.add_argument(
        "--max-batch-size", type=_positive_int, default=16, help="texts per micro-batch (16; more on a GPU)"
    )
    p.add_argument(
        "--max-wait-ms", type=_nonnegative_float, default=5.0, help="wait for more requests (5 ms)"
    )
    p.add_argument("--max-texts", type=_positive_int, default=256, help="texts per request (256)")
    p.add_argument(
        "--max-body-bytes", type=_positive_int, default=1_000_000, help="request body size (1000000)"
    )
    p.add_argument("--max-queue", type=_positive_int, default=4096, help="texts waiting before 503 (4096)")
    p.add_argument("--batch-size", type=_positive_int, help="texts per forward pass (default: saved)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    _add_engine_options(p)
    p.set_defaults(handler=_cmd_serve)
    return parser


# --------------------------------------------------------------------------- helpers
class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (main() may run repeatedly)."""

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _setup_logging(quiet: bool) -> None:
    log = logging.getLogger("easytx")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("[easytx] %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)


def _load_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up banner (oneDNN, CUDA probing) hidden.

    The banner is written to file descriptor 2 before any Python logging exists; it is captured
    and shown only if the import fails.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
            from .backend import legacy_available

            if legacy_available()[0]:  # transformers 5 has no TF classes: the Keras 3 backend runs
                from transformers import TFPreTrainedModel  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _resolve_engine(args: argparse.Namespace, manifest: dict) -> str:
    """``args.engine`` resolved for the folder; imports TensorFlow (quietly) for the tf engine only."""
    from .onnx_engine import require_tensorflow, resolve_engine

    engine = resolve_engine(args.engine, manifest, folder=args.predictor)
    if engine == "tf":
        if args.threads is not None or args.spin:
            option = "--threads" if args.threads is not None else "--spin"
            raise ConfigError(
                f"{option} sets onnxruntime's threads, but {args.predictor} loads with the tf engine "
                f"(--engine {args.engine}). Pass --engine onnx or onnx-int8 (a folder saved with "
                "onnx=True or onnx='int8')."
            )
        try:
            _load_tensorflow_quietly()
        except ImportError:
            require_tensorflow(args.predictor)  # one line naming what is missing and what to do
            raise
    return engine


def _load(args: argparse.Namespace, manifest: dict) -> Any:
    """Load ``args.predictor`` with ``args.engine`` (see :func:`_resolve_engine`)."""
    engine = _resolve_engine(args, manifest)
    from .predictor import load_predictor

    predictor = load_predictor(
        args.predictor,
        batch_size=args.batch_size,
        engine=engine,
        intra_op_threads=args.threads,
        allow_spinning=args.spin or None,
    )
    predictor.windows = not args.no_windows
    return predictor


def _console(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _check_output_folder(path: str) -> None:
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise DataError(f"--output {folder} is a file; pass a folder path for the predictor.")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / "easytx.json").is_file():
        raise DataError(
            f"--output {folder} exists and is not an easytx predictor; refusing to replace it. "
            "Choose another folder."
        )


def _read_labelled(path: str, text_column: str, label_column: str) -> tuple[list, list]:
    from .data import check_columns, read_table

    frame = read_table(path)
    check_columns(frame, [text_column, label_column], where=str(path))
    texts = frame[text_column].fillna("").astype(str).tolist()
    labels = frame[label_column]
    if labels.isna().any():
        rows = [int(i) for i in labels.index[labels.isna()][:10]]
        raise DataError(f"{path}: column {label_column!r} has empty labels at row(s) {rows}.")
    return texts, labels.tolist()


def _coerce_labels(labels: list, encoder: Any) -> list:
    """Labels read from CSV are strings; match them to the type the predictor was trained on."""
    kind = getattr(encoder, "label_type_", "str")
    if kind == "int":
        out = []
        for value in labels:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                out.append(int(value))
            else:
                out.append(value)
        return out
    if kind == "bool":
        table = {"true": True, "false": False, "1": True, "0": False}
        return [table.get(v.strip().lower(), v) if isinstance(v, str) else v for v in labels]
    return [str(v) if not isinstance(v, str) else v for v in labels]


def _format_metrics(metrics: dict) -> str:
    return "  ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(metrics.items())
    )


# --------------------------------------------------------------------------- train
def _cmd_train(args: argparse.Namespace) -> int:
    from .data import check_columns, read_table

    _check_output_folder(args.output)
    frame = read_table(args.data)  # read first: file and column errors before TensorFlow loads
    check_columns(frame, [args.text_column, args.label_column], where=str(args.data))
    val = None
    if args.val:
        val = read_table(args.val)
        check_columns(val, [args.text_column, args.label_column], where=str(args.val))
    _load_tensorflow_quietly()
    from .quick import finetune

    predictor = finetune(
        frame,
        args.model,
        text_column=args.text_column,
        label_column=args.label_column,
        val_data=val,
        val_pct=args.val_pct,
        maxlen=args.maxlen,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
        pooling=args.pooling,
    )
    folder = predictor.save(args.output)
    learner = getattr(predictor, "learner", None)
    if args.lr == "auto" and learner is not None and learner.lr_finder_ is not None:
        _console(f"learning rate (lr_find, min_div5): {learner.lr_finder_.min_div5:.2e}")
    _console(f"validation: {_format_metrics(predictor.metrics)}")
    _console(f"saved predictor to {folder}")
    return 0


# --------------------------------------------------------------------------- evaluate
def _int_lists(matrix: Any) -> Any:
    """A (nested) array of counts as nested lists of ints (JSON)."""
    if hasattr(matrix, "tolist"):
        matrix = matrix.tolist()
    return [_int_lists(v) for v in matrix] if isinstance(matrix, list) else int(matrix)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from . import artifacts

    manifest = artifacts.read_manifest(args.predictor)  # a clear error before TensorFlow loads
    texts, labels = _read_labelled(args.data, args.text_column, args.label_column)
    predictor = _load(args, manifest)
    encoder = predictor.preproc.labels_
    y = encoder.transform(_coerce_labels(labels, encoder))
    proba = predictor.predict_proba(texts)
    report, matrix = predictor.task.report(y, proba, encoder)
    scores = predictor.task.scores(y, proba, encoder) if hasattr(predictor.task, "scores") else {}
    classes = [c if isinstance(c, (str, int, bool)) else str(c) for c in predictor.get_classes()]
    if args.json:
        result = {
            "predictor": str(args.predictor),
            "data": str(args.data),
            "n": len(texts),
            "task": predictor.task.name,
            "classes": classes,
            "metrics": scores,
            "confusion_matrix": None if matrix is None else _int_lists(matrix),
        }
        _console(json.dumps(result, indent=2))
        return 0
    _console(f"{len(texts)} rows from {args.data}")
    _console(report.rstrip("\n"))
    if matrix is not None and len(matrix) and len(matrix) == len(matrix[0]) == len(classes):
        _console("confusion matrix (rows: true, columns: predicted):")
        width = max(len(str(c)) for c in classes)
        _console(" " * (width + 1) + " ".join(f"{str(c):>{max(width, 6)}}" for c in classes))
        for name, row in zip(classes, matrix):
            _console(f"{str(name):>{width}} " + " ".join(f"{int(v):>{max(width, 6)}}" for v in row))
    if scores:
        _console(f"metrics: {_format_metrics(scores)}")
    return 0


# --------------------------------------------------------------------------- predict
def _input_format(path: str | None, requested: str) -> str:
    if requested != "auto":
        return requested
    if path is None:
        return "lines"
    return _LINE_SUFFIXES.get(Path(path).suffix.lower(), "lines")


def _output_format(path: str | None, requested: str) -> str:
    if requested != "auto":
        return requested
    if path is None:
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if suffix == ".txt":
        return "labels"
    return _LINE_SUFFIXES.get(suffix, "jsonl")


def _records(
    handle: TextIO, fmt: str, text_column: str, where: str
) -> Iterator[tuple[dict, str, list | None]]:
    """Yield ``(record, text, fieldnames)`` one input row at a time (constant memory)."""
    if fmt == "lines":
        for line in handle:
            text = line[:-1] if line.endswith("\n") else line
            text = text[:-1] if text.endswith("\r") else text
            yield {"text": text}, text, None
        return
    if fmt in ("csv", "tsv"):
        csv.field_size_limit(2**31 - 1)
        reader = csv.DictReader(handle, delimiter="\t" if fmt == "tsv" else ",")
        fields = reader.fieldnames
        if not fields:
            return
        if text_column not in fields:
            raise DataError(
                f"Column {text_column!r} not found in {where}. Available columns: {list(fields)}."
                + closest_match_hint(text_column, fields)
                + " Pass --text-column NAME."
            )
        for row in reader:
            value = row.get(text_column)
            yield row, value if isinstance(value, str) else "", list(fields)
        return
    for line_no, line in enumerate(handle, start=1):  # jsonl
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}, line {line_no}: not valid JSON ({exc.msg}).") from None
        if isinstance(item, str):
            yield {"text": item}, item, None
        elif isinstance(item, dict):
            if text_column not in item:
                raise DataError(
                    f"{where}, line {line_no}: no field {text_column!r} (fields: {sorted(item)})."
                    + closest_match_hint(text_column, item)
                    + " Pass --text-column NAME."
                )
            value = item[text_column]
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise DataError(
                    f"{where}, line {line_no}: field {text_column!r} holds a {type(value).__name__}, "
                    "not a string."
                )
            yield item, value, None
        else:
            raise DataError(f"{where}, line {line_no}: expected a JSON object or string per line.")


def _chunks(records: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _cmd_predict(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from . import artifacts
    from .data import PredictionWriter, per_class_rows

    manifest = artifacts.read_manifest(args.predictor)
    source = None if args.input in (None, "-") else args.input
    in_fmt = _input_format(source, args.input_format)
    out_fmt = _output_format(args.output, args.output_format)
    if out_fmt == "labels" and args.proba:
        raise ConfigError("--proba needs an output format with columns: use --output-format jsonl or csv.")
    if source is not None and not Path(source).is_file():
        raise DataError(f"No such file: {source}. Check the path (current folder: {Path.cwd()}).")
    if source is not None and args.output and _same_file(source, args.output):
        raise DataError(f"--output {args.output} is the input file; write the predictions elsewhere.")
    where = source or "stdin"
    warned = False
    with contextlib.ExitStack() as stack:
        if source is None:
            in_handle = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="strict", newline="")
        else:
            in_handle = stack.enter_context(open(source, encoding="utf-8", newline=""))
        records = _records(in_handle, in_fmt, args.text_column, where)
        try:
            first = next(records, None)  # header and first-row errors before TensorFlow loads
        except UnicodeDecodeError as exc:
            raise _not_utf8(where, exc) from None
        if first is not None:
            records = itertools.chain([first], records)
        predictor = _load(args, manifest)
        classes = predictor._output_classes()
        if args.output:
            out_handle = stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
        else:
            out_handle = sys.stdout
        writer = PredictionWriter(out_handle, out_fmt, classes, proba=args.proba, digits=6)
        progress = stack.enter_context(
            tqdm(desc="predicting", unit=" texts", disable=True if args.quiet else None, file=sys.stderr)
        )
        try:
            for chunk in _chunks(records, args.chunk_size):
                texts = [text for _, text, _ in chunk]
                # the predictor's one path (long texts in windows): labels decoded from the same
                # encoded inputs (a tagger's entities need them) and the probabilities they come from
                labels, proba = predictor.predict_with_proba(texts, verbose=0)
                per_class = per_class_rows(proba)
                if args.proba and not per_class and not warned:
                    warned = True
                    logger.warning(
                        "--proba: this %s predictor has no per-class probabilities per text; each "
                        "entity in the prediction carries its score.",
                        predictor.task.name,
                    )
                for (record, _, fields), label, row in zip(chunk, labels, proba):
                    writer.write(record, label, row if per_class else None, fields)
                out_handle.flush()
                progress.update(len(chunk))
        except UnicodeDecodeError as exc:
            raise _not_utf8(where, exc) from None
    return 0


def _not_utf8(where: str, exc: UnicodeDecodeError) -> DataError:
    return DataError(
        f"{where} is not valid UTF-8 (byte {exc.object[exc.start : exc.start + 1]!r} in a block "
        "being read). Re-save it as UTF-8."
    )


# --------------------------------------------------------------------------- info
def _cmd_info(args: argparse.Namespace) -> int:
    from . import artifacts

    meta = artifacts.read_manifest(args.predictor)
    folder = Path(args.predictor).expanduser()
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    prep = meta.get("preprocessing", {})
    facts = {
        "path": str(folder.resolve()),
        "task": meta.get("task"),
        "classes": meta.get("classes"),
        "model": prep.get("model_name"),
        "maxlen": prep.get("maxlen"),
        "inputs": prep.get("input_names"),
        "batch_size": meta.get("batch_size"),
        "metrics": meta.get("metrics", {}),
        "versions": meta.get("versions", {}),
        "schema_version": meta.get("schema_version"),
        "size_bytes": size,
        "files": len(meta.get("files", {})),
    }
    if args.json:
        _console(json.dumps(facts, indent=2))
        return 0
    _console(f"predictor   {facts['path']}")
    _console(f"task        {facts['task']}")
    classes = facts["classes"] or []
    _console(f"classes     {len(classes)}: {', '.join(str(c) for c in classes)}")
    _console(f"model       {facts['model']}")
    _console(f"maxlen      {facts['maxlen']} tokens (inputs: {', '.join(facts['inputs'] or [])})")
    _console(f"metrics     {_format_metrics(facts['metrics']) if facts['metrics'] else '(none saved)'}")
    versions = "  ".join(f"{k} {v}" for k, v in facts["versions"].items())
    _console(f"saved with  {versions}")
    _console(
        f"format      schema {facts['schema_version']}, {facts['files']} files, "
        f"{size / 1e6:.1f} MB, checksums OK"
    )
    return 0


# --------------------------------------------------------------------------- export
def _cmd_export(args: argparse.Namespace) -> int:
    from . import artifacts
    from .export import check_destination, import_tf2onnx

    artifacts.read_manifest(args.predictor)  # fail before loading the model
    check_destination(args.output, overwrite=args.overwrite)
    if args.format == "onnx":
        import_tf2onnx()
    _load_tensorflow_quietly()
    from .predictor import load_predictor

    predictor = load_predictor(args.predictor, engine="tf")  # exporting converts the TF model
    folder = predictor.export(args.output, args.format, overwrite=args.overwrite)
    _console(f"exported {args.format} to {folder}")
    return 0


# --------------------------------------------------------------------------- serve
def _cmd_serve(args: argparse.Namespace) -> int:
    from . import artifacts
    from .serve import ServeConfig, require_server_dependencies, serve

    require_server_dependencies()
    manifest = artifacts.read_manifest(args.predictor)
    config = ServeConfig(
        batching=not args.no_batching,
        max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
        max_texts=args.max_texts,
        max_body_bytes=args.max_body_bytes,
        max_queue=args.max_queue,
    ).check()
    engine = _resolve_engine(args, manifest)
    serve(
        args.predictor,
        engine=engine,
        intra_op_threads=args.threads,
        allow_spinning=args.spin or None,
        host=args.host,
        port=args.port,
        config=config,
        batch_size=args.batch_size,
        log_level="warning" if args.quiet else "info",
        access_log=args.access_log,
        windows=not args.no_windows,
    )
    return 0


# --------------------------------------------------------------------------- entry point
def _error(message: str) -> None:
    text = " ".join(str(message).split())  # one line, whatever the exception held
    sys.stderr.write(f"{PROG}: error: {text}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 1 error, 2 usage, 130 interrupt)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    # predict and evaluate keep stderr for errors and the progress bar only
    _setup_logging(args.quiet or args.command in ("predict", "evaluate"))
    try:
        return int(args.handler(args) or 0)
    except EasytxError as exc:
        _error(str(exc))
        return 1
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # e.g. `easytx predict ... | head`
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        _error(f"{exc.strerror or exc}{where}")
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
