"""Integration tests on the real pretrained all-MiniLM-L6-v2 (22M parameters) and real data.

Marked ``slow``: they fine-tune for real on 2 CPU cores (about two minutes each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import easytx
from easytx import text

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _sst2(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, sentence = line.split(" ", 1)
        texts.append(sentence)
        labels.append(int(label))
    return texts, labels


@pytest.mark.parametrize("backend", ["keras3", "transformers"])
def test_sst2_fine_tune_save_and_reload_in_a_fresh_process(real_model_path, shared_data, tmp_path, backend):
    x_train, y_train = _sst2(shared_data / "sst2_sentences" / "stsa.binary.train")
    x_dev, y_dev = _sst2(shared_data / "sst2_sentences" / "stsa.binary.dev")
    x_train, y_train = x_train[:2000], y_train[:2000]

    t = text.Transformer(real_model_path, maxlen="auto", class_names=["negative", "positive"])
    trn = t.preprocess_train(x_train, y_train)
    val = t.preprocess_test(x_dev, y_dev)
    learner = easytx.get_learner(
        t.get_classifier(seed=0, backend=backend), train_data=trn, val_data=val, batch_size=32, seed=0
    )
    start = time.perf_counter()
    learner.fit_onecycle(2e-4, 1, verbose=0)
    seconds = time.perf_counter() - start
    cm = learner.validate(class_names=t.get_classes(), print_report=False)
    accuracy = cm.trace() / cm.sum()
    print(
        f"\n[{backend}] SST-2 dev accuracy {accuracy:.4f}; 2000 rows x 1 epoch in {seconds:.1f} s "
        f"({2000 / seconds:.1f} examples/s); maxlen {t.maxlen_}"
    )
    assert accuracy >= 0.80

    predictor = easytx.get_predictor(learner.model, preproc=t)
    folder = predictor.save(tmp_path / "sst2_predictor")
    expected = predictor.predict_proba(x_dev)
    (tmp_path / "dev.json").write_text(json.dumps(x_dev))
    code = (
        "import json, numpy as np, easytx\n"
        f"p = easytx.load_predictor({str(folder)!r})\n"
        f"texts = json.load(open({str(tmp_path / 'dev.json')!r}))\n"
        f"np.save({str(tmp_path / 'proba.npy')!r}, p.predict_proba(texts))\n"
        f"print(p.predict('a gorgeous, witty, seductive movie .'))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EASYTX_BACKEND": backend}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "positive"
    np.testing.assert_allclose(np.load(tmp_path / "proba.npy"), expected, atol=1e-5)


def test_quickstart_example_runs(tmp_path):
    # as a user runs it: the default backend (auto: the Keras 3 encoder for MiniLM)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp_path), "EASYTX_BACKEND": "auto"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()  # Keras' progress bar writes to stdout too
    report = [line for line in lines if line.startswith("validation accuracy: ")]
    assert len(report) == 1, out.stdout[-2000:]
    accuracy = float(report[0].split("validation accuracy: ")[1].split()[0])
    assert accuracy >= 0.9
    assert lines[-2].split()[0] == "spam" and lines[-1].split()[0] == "ham"
