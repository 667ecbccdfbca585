"""A fast predictor for an app: save with ONNX graphs, predict with onnxruntime and no TensorFlow
(docs/onnx-engine.md).

    python examples/onnx_app.py                  # offline: a tiny generated model, ~30 s
    python examples/onnx_app.py my_predictor     # any predictor you saved (loaded with TF once)

1. Train (or load) a predictor and save it with ``onnx="int8"``: the folder gains ``model.onnx``
   and ``model.int8.onnx``, checksummed in ``easytx.json`` like every other file.
2. Start a fresh Python process in which ``import tensorflow`` (and keras, transformers) fails,
   as in an app installed with ``easytx-nlp-runtime``, and predict there with
   ``engine="onnx"`` and ``engine="onnx-int8"``: import + load + first prediction take well under
   a second.
3. Compare the three engines' answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import easytx

TEXTS = ["what a wonderful, moving film", "dull and far too long", "the cast was great", ""]

# what an app without TensorFlow looks like: every import of these packages fails
NO_TENSORFLOW = textwrap.dedent(
    """
    import importlib.abc, sys
    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "transformers"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, Blocker())
    """
)

APP = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    import easytx
    folder, texts = sys.argv[1], json.loads(sys.argv[2])
    out = {}
    for engine in ("onnx", "onnx-int8"):
        predictor = easytx.load_predictor(folder, engine=engine, intra_op_threads=1)
        labels = predictor.predict(texts)
        out[engine] = {"labels": [str(x) for x in labels], "proba": predictor.predict_proba(texts).tolist(),
                       "seconds": time.perf_counter() - start}
        start = time.perf_counter()
    out["tensorflow_imported"] = "tensorflow" in sys.modules
    print(json.dumps(out))
    """
)


def tiny_predictor(workdir: Path):
    """A tiny BERT (hidden 32) fine-tuned on keyword-labelled sentences: offline, in seconds."""
    import pandas as pd

    from easytx.testing import keyword_dataset, make_tiny_model

    texts, labels = keyword_dataset(400, seed=0)
    model = make_tiny_model(workdir / "tiny_bert", "bert")
    return easytx.finetune(
        pd.DataFrame({"text": texts, "label": labels}), model, epochs=3, lr=5e-3, batch_size=16, verbose=0
    )


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="easytx-onnx-app-"))
    if len(sys.argv) > 1:
        predictor = easytx.load_predictor(sys.argv[1], engine="tf")
    else:
        predictor = tiny_predictor(workdir)
    start = time.perf_counter()
    folder = predictor.save(workdir / "predictor", onnx="int8")
    sizes = {p.name: p.stat().st_size / 1e6 for p in folder.glob("model*.onnx")}
    print(f"saved {folder} with ONNX graphs in {time.perf_counter() - start:.1f} s: {sizes} (MB)")
    graphs = json.loads((folder / "easytx.json").read_text())["onnx"]
    simplified = graphs.get("simplified", {})  # easytx.onnx_graph's rewrite of tf2onnx's graph
    print(
        f"graph: {simplified.get('nodes_after')} nodes instead of tf2onnx's {simplified.get('nodes_before')} "
        f"({simplified.get('layer_norms')} layer norms, {simplified.get('gelus')} GELUs fused); "
        f"int8: {graphs['int8'].get('outlier_split', {}).get('channels', 0)} outlier channels kept in float32"
    )

    # the app: a fresh process where TensorFlow cannot be imported
    shim = workdir / "no_tensorflow"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(NO_TENSORFLOW)
    here = Path(easytx.__file__).resolve().parents[1]  # the app imports this same easytx
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(here)])}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", APP, str(folder), json.dumps(TEXTS)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    app = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"app process (no TensorFlow: {not app['tensorflow_imported']}): {time.perf_counter() - start:.2f} s "
        f"in all, of which import + load + first predict {app['onnx']['seconds']:.2f} s"
    )

    expected = predictor.predict_proba(TEXTS)
    labels = [str(x) for x in predictor.predict(TEXTS)]
    print(f"{'text':32s} {'tf':>6s} {'onnx':>6s} {'int8':>6s}")
    for i, text in enumerate(TEXTS):
        row = [labels[i], app["onnx"]["labels"][i], app["onnx-int8"]["labels"][i]]
        print(f"{text[:32]!r:32s} " + " ".join(f"{x:>6s}" for x in row))
    for engine in ("onnx", "onnx-int8"):
        diff = np.abs(np.asarray(app[engine]["proba"]) - expected).max()
        print(f"{engine}: largest probability difference from the TF engine {diff:.1e}")


if __name__ == "__main__":
    main()
