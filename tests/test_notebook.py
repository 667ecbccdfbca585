"""The quick-start notebook: stored without outputs, and executed top to bottom offline."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "notebooks" / "quickstart.ipynb"


def _read():
    import nbformat  # nbformat, nbclient and ipykernel come with the test extra

    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_stored_valid_and_without_outputs():
    import nbformat

    nb = _read()
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "strip the outputs"
    assert nb.metadata.kernelspec.name == "python3"
    install = code[0].source
    assert 'find_spec("easytx") is None' in install and "pip" in install  # a no-op where installed
    # the walk-through the notebook promises, in order
    steps = [
        "load_sample()",
        "train_test_split",
        "lr_find",
        "fit_onecycle",
        "validate",
        "plot_confusion_matrix",
        "explain(",
        ".save(",
        "load_predictor",
        ".predict(",
    ]
    source = "\n".join(c.source for c in code)
    positions = [source.index(step) for step in steps]
    assert positions == sorted(positions)


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch, real_model_path):
    """Executes every cell with a Jupyter kernel on 200 messages and 1 epoch (about 2 minutes)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("EASYTX_MODEL", str(real_model_path))
    monkeypatch.setenv("EASYTX_NB_ROWS", "200")
    monkeypatch.setenv("EASYTX_NB_EPOCHS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = _read()
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    elapsed = time.perf_counter() - start

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # lr_plot, plot("lr"), plot("loss"), plot_confusion_matrix: each shown once
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 4
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("easytx-explanation" in h and "predicted <b>" in h for h in html)
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "precision" in text and "recall" in text  # the validation report
    assert re.search(r"\['(spam|ham)', '(spam|ham)'\]", text)  # predictions of the reloaded predictor
    assert (tmp_path / "sms_spam_predictor" / "easytx.json").is_file()
    print(f"notebook executed in {elapsed:.0f} s")
