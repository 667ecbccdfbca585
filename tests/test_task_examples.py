"""The task examples (examples/multilabel.py, regression.py, pairs.py, ktrain_script.py, ktrain_ner.py,
long_texts.py, training_logs.py) and examples/embeddings.py run offline end to end.

Marked ``slow``: each starts TensorFlow, builds a tiny model and trains it (30-60 s each); the
embeddings example embeds 600 texts with the real all-MiniLM-L6-v2 (about 15 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("multilabel.py", "thresholds tuned on the validation data"),
        ("regression.py", "constant predictor"),
        ("pairs.py", "saved and reloaded"),
        ("ktrain_script.py", "peak lr 0.005"),
        ("ktrain_ner.py", "entity F1 "),
        ("long_texts.py", "in windows"),
        ("training_logs.py", "history.csv: "),
    ],
)
def test_task_example_runs_offline(script, expected, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp_path)}
    env.pop("MODEL", None)
    env.pop("EASYTX_KTRAIN_DISTILBERT_MODEL", None)
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert expected in run.stdout
    assert "saved and reloaded" in run.stdout


def test_embeddings_example_runs_offline(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp_path)}
    env.pop("MODEL", None)
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "embeddings.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("384-dimensional vectors") and "bake the bread" in lines[1]
    assert "SMS messages embedded" in lines[-1]
