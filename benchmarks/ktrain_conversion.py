"""Check ``easytx.convert_ktrain_predictor`` against a predictor written by real ktrain 0.41.4.

Needs the ktrain environment (``bash benchmarks/setup_ktrain_env.sh``, or ``KTRAIN_PYTHON=`` pointing at
its interpreter). In the project environment::

    python benchmarks/ktrain_conversion.py

1. writes a tiny offline model (easytx.testing.make_tiny_model);
2. in the ktrain venv, fine-tunes it with ktrain's ``text.Transformer`` for 2 epochs, saves the
   predictor with ``predictor.save()`` and records ktrain's probabilities on 40 held-out texts;
3. here, converts that folder (``tf_model.preproc`` is never opened) and prints the largest
   difference between easytx's and ktrain's probabilities.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KTRAIN_PYTHON = Path(os.environ.get("KTRAIN_PYTHON", HERE / ".venv-ktrain" / "bin" / "python"))

KTRAIN_SIDE = """
import json, os, sys
import ktrain
from ktrain import text
model_dir, out, probe_json, repo = sys.argv[1:5]
sys.path.insert(0, repo)
from easytx.testing import keyword_dataset  # pure-Python data generator
x, y = keyword_dataset(200, seed=11)
t = text.Transformer(model_dir, maxlen=32, class_names=["neg", "pos"])
trn = t.preprocess_train(x[:160], [["neg", "pos"].index(v) for v in y[:160]], verbose=0)
learner = ktrain.get_learner(t.get_classifier(), train_data=trn, batch_size=16)
learner.fit_onecycle(5e-3, 2, verbose=0)
predictor = ktrain.get_predictor(learner.model, preproc=t)
predictor.save(out)
json.dump({"texts": x[160:], "proba": predictor.predict_proba(x[160:]).tolist(),
           "classes": predictor.get_classes(), "ktrain": ktrain.__version__}, open(probe_json, "w"))
"""


def main() -> None:
    import numpy as np

    import easytx
    from easytx.testing import make_tiny_model

    if not KTRAIN_PYTHON.exists():
        sys.exit(f"ktrain venv not found at {KTRAIN_PYTHON}: run bash benchmarks/setup_ktrain_env.sh")
    work = Path(tempfile.mkdtemp(prefix="ktrain-conversion-"))
    model_dir = make_tiny_model(work / "tiny_bert", "bert")
    env = {
        **os.environ,
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    subprocess.run(
        [
            str(KTRAIN_PYTHON),
            "-c",
            KTRAIN_SIDE,
            str(model_dir),
            str(work / "ktrain_predictor"),
            str(work / "probe.json"),
            str(HERE.parent),
        ],
        check=True,
        env=env,
    )
    probe = json.loads((work / "probe.json").read_text())
    files = sorted(p.name for p in (work / "ktrain_predictor").iterdir())
    converted = easytx.convert_ktrain_predictor(
        work / "ktrain_predictor", work / "easytx_predictor", class_names=probe["classes"], maxlen=32
    )
    mine = converted.predict_proba(probe["texts"])
    theirs = np.asarray(probe["proba"])
    print(f"ktrain {probe['ktrain']} predictor folder: {files}")
    print(
        f"{len(theirs)} texts: max |p_easytx - p_ktrain| = {np.abs(mine - theirs).max():.2e}, "
        f"same labels: {(mine.argmax(1) == theirs.argmax(1)).mean():.0%}"
    )


if __name__ == "__main__":
    main()
