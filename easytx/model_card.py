"""The model card: ``README.md`` of a saved predictor folder, written from its manifest.

:meth:`easytx.Predictor.save` renders it from what ``easytx.json`` records (task, labels, base
model, maximum length, backend, training recipe and per-epoch history, validation metrics,
library versions, date), so the card never says more than the folder holds. Like every file of the
folder it is listed and checksummed in ``easytx.json``: edit a copy, not the file itself. Pure
Python: no TensorFlow.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MODEL_CARD", "render_model_card"]

#: the card's file name inside a predictor folder
MODEL_CARD = "README.md"

_LABELS_NAME = {
    "classification": "classes",
    "multilabel": "labels",
    "regression": "targets",
    "token_classification": "tags",
}
_OPTION_NAMES = {
    "lr": "learning rate",
    "epochs": "epochs",
    "pct_start": "warm-up share",
    "div_factor": "start lr = lr /",
    "final_div_factor": "final lr = lr /",
    "moms": "momentum range",
    "n_cycles": "cycles",
    "cycle_len": "cycle length (epochs)",
    "cycle_mult": "cycle multiplier",
    "early_stopping": "early stopping patience",
    "monitor": "monitored metric",
    "reduce_on_plateau": "plateau patience",
    "reduce_factor": "plateau lr divisor",
}


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_value(v) for v in row) + " |" for row in rows]
    return out


def _labels(manifest: dict) -> str:
    classes = manifest.get("classes") or []
    shown = ", ".join(f"`{c}`" for c in classes[:50])
    more = f" and {len(classes) - 50} more" if len(classes) > 50 else ""
    return f"{shown}{more} ({len(classes)})" if classes else "-"


def _training_section(training: list) -> list[str]:
    out = ["## Training", ""]
    for number, record in enumerate(training, 1):
        method = record.get("method") or "training"
        title = f"### Call {number}: `learner.{method}`" if len(training) > 1 else f"`learner.{method}`"
        out += [title, ""] if len(training) > 1 else [f"With {title}:", ""]
        options = {k: v for k, v in (record.get("options") or {}).items() if v is not None}
        rows = [[_OPTION_NAMES.get(k, k), v] for k, v in options.items()]
        rows += [
            ["batch size", record.get("batch_size")],
            ["weight decay (AdamW)", record.get("weight_decay")],
        ]
        if (record.get("accumulation_steps") or 1) > 1:
            rows.append(["gradient accumulation steps", record["accumulation_steps"]])
        rows += [
            ["training rows", record.get("train_rows")],
            ["validation rows", record.get("val_rows")],
        ]
        out += _table(["setting", "value"], rows) + [""]
        epochs = record.get("epochs") or []
        stopping = record.get("early_stopping") or {}
        notes = []
        if stopping.get("stopped_epoch"):
            notes.append(
                f"Early stopping ended training after epoch {stopping['stopped_epoch']} "
                f"({stopping.get('monitor')} had not improved for {stopping.get('patience')} epoch(s))."
            )
        if record.get("interrupted"):
            notes.append("Training was interrupted (Ctrl-C).")
        if record.get("kept_epoch") is not None and epochs and record["kept_epoch"] != epochs[-1]["epoch"]:
            notes.append(f"The model keeps the weights of epoch {record['kept_epoch']}, the best one.")
        out += [" ".join(notes), ""] if notes else []
        if epochs:
            keys = sorted(
                {k for e in epochs for k in e if k != "epoch"}, key=lambda k: (k.startswith("val_"), k)
            )
            marked = [
                [f"{e['epoch']}{' (kept)' if e['epoch'] == record.get('kept_epoch') else ''}"]
                + [e.get(k) for k in keys]
                for e in epochs
            ]
            out += _table(["epoch", *keys], marked) + [""]
    return out


def render_model_card(manifest: dict, *, folder_name: str = "my_predictor") -> str:
    """The Markdown model card of a predictor whose ``easytx.json`` holds ``manifest``.

    Parameters
    ----------
    manifest : dict
        What :meth:`easytx.Predictor.save` writes into ``easytx.json`` (``files`` and
        ``save_id`` are not needed).
    folder_name : str
        The folder's name, for the loading example.

    Examples
    --------
    >>> card = render_model_card({"task": "classification", "classes": ["neg", "pos"],
    ...                           "preprocessing": {"model_name": "bert-base-uncased", "maxlen": 64}})
    >>> card.splitlines()[0]
    '# my_predictor: classification fine-tuned from bert-base-uncased'
    """
    preprocessing = manifest.get("preprocessing") or {}
    task = manifest.get("task", "?")
    base = preprocessing.get("model_name", "?")
    versions = manifest.get("versions") or {}
    saved_at = manifest.get("saved_at")
    when = f" on {saved_at}" if saved_at else ""
    by = f" by easytx {versions['easytx']}" if "easytx" in versions else ""
    lines = [
        f"# {folder_name}: {task} fine-tuned from {base}",
        "",
        f"An easytx predictor, saved{when}{by}. This card was written from what the predictor "
        "recorded (`easytx.json`); like every file here it is checksummed there, so edit a copy, "
        "not this file.",
        "",
        "```python",
        "import easytx",
        f'predictor = easytx.load_predictor("{folder_name}")',
        'predictor.predict("a text")',
        "```",
        "",
        "## Model",
        "",
    ]
    onnx = (manifest.get("onnx") or {}).get("graphs") or {}
    rows = [
        ["task", task],
        [_LABELS_NAME.get(task, "labels"), _labels(manifest)],
        ["base model", base],
        ["maximum length", f"{preprocessing.get('maxlen', '?')} tokens"],
        ["sentence pairs", preprocessing.get("pairs")],
        ["backend", manifest.get("backend", "?")],
        ["engines", ", ".join(["tf", *onnx])],
    ]
    task_config = manifest.get("task_config") or {}
    rows += [[f"task option `{k}`", v] for k, v in task_config.items()]
    lines += _table(["", "value"], rows) + [""]
    metrics = manifest.get("metrics") or {}
    training = manifest.get("training") or []
    if metrics:
        lines += ["## Validation metrics", ""]
        lines += _table(["metric", "value"], [[k, v] for k, v in metrics.items()]) + [""]
    elif training and (training[-1].get("validation") or {}):
        last = training[-1]
        lines += [
            "## Validation metrics",
            "",
            f"As Keras computed them at epoch {last.get('kept_epoch')} of the last training call, "
            "whose weights the model keeps:",
            "",
        ]
        lines += _table(["metric", "value"], [[k, v] for k, v in last["validation"].items()]) + [""]
    else:
        lines += ["## Validation metrics", "", "None recorded (the model was not validated by easytx).", ""]
    if training:
        lines += _training_section(training)
    else:
        lines += ["## Training", "", "No training recorded by easytx for this model.", ""]
    lines += ["## Versions", ""]
    lines += _table(["library", "version"], [[k, v] for k, v in sorted(versions.items())]) + [""]
    return "\n".join(lines)
