"""The documentation site builds with ``mkdocs build --strict`` (no broken links, no bad docstrings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    """About 10-20 s: griffe reads every module's docstrings (statically, without TensorFlow)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    site = tmp_path / "site"
    predictor = (site / "reference" / "predictor" / "index.html").read_text(encoding="utf-8")
    assert "easytx.predictor.Predictor.explain" in predictor  # API pages come from the docstrings
    assert ":class:`" not in predictor and ":meth:`" not in predictor  # Sphinx roles rewritten
    explain = (site / "explain" / "index.html").read_text(encoding="utf-8")
    assert 'class="easytx-explanation"' in explain  # the generated explanation is embedded
    for image in ("lr_find.png", "confusion_matrix.png"):
        assert (site / "img" / image).stat().st_size > 5000
