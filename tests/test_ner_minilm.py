"""Acceptance for token classification: examples/ner.py on CoNLL-2003 with the real MiniLM.

Marked ``slow``. The example trains all-MiniLM-L6-v2 on the first 1,500 sentences of
``eng.train`` for 2 epochs (maxlen 64, batch 32, lr 5e-4), scores the first 1,000 sentences of
``eng.testb`` at the entity level, saves, reloads and predicts.

Measured with ``python -m pytest -m slow -s tests/test_ner_minilm.py`` on 2 CPU cores shared with
three other jobs (load average 7): entity F1 0.6097 on that subset (LOC and PER best, ORG and
MISC worst), training 391 s, the whole test 453 s; with 2,000 sentences the same recipe gave
0.7009 (529 s). The floor, 0.50, sits 0.11 below the measurement to absorb CPU run-to-run noise
while failing any broken pipeline (an untrained head, or a model that predicts only ``O``, scores
about 0). Published BERT-base (cased, 110M parameters) on the full training set: 0.92;
MiniLM-L6 is uncased, 5x smaller and sees 11% of the sentences for 2 epochs here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
F1_FLOOR = 0.50  # measured 0.6097 (see the module docstring)


def test_ner_example_on_conll2003(real_model_path, shared_data, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        str(ROOT / "examples" / "ner.py"),
        "--data",
        str(shared_data / "conll2003"),
        "--model",
        str(real_model_path),
        "--out",
        str(tmp_path / "ner_predictor"),
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    report = [line for line in lines if line.startswith("entity F1 on eng.testb: ")]
    assert len(report) == 1, out.stdout[-2000:]
    print("\n" + report[0])
    f1 = float(report[0].split(": ")[1].split()[0])
    assert f1 >= F1_FLOOR, out.stdout[-2000:]
    for kind in ("PER", "LOC", "ORG", "MISC"):
        assert any(line.strip().startswith(kind) for line in lines), out.stdout[-2000:]
    entities = json.loads(lines[-1])
    found = {(e["text"], e["type"]) for e in entities}
    assert ("Paris", "LOC") in found, entities
    meta = json.loads((tmp_path / "ner_predictor" / "easytx.json").read_text())
    assert meta["task"] == "token_classification" and meta["preprocessing"]["tag_scheme"] == "IOB2"
