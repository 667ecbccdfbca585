"""Reader for the SST-2 sentence files used by both sides of the benchmark.

Each line of ``stsa.binary.{train,dev,test}`` is ``LABEL TEXT``: a 0/1 label,
one space, then the sentence. Only the standard library is used, so this
module imports in any environment (system python or the ktrain venv).
The data stays in shared/; nothing is copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "EASYTX_SST2_DIR"
DEFAULT_DATA_DIR = Path("/work/shared/data/sst2_sentences")
CLASS_NAMES = ["negative", "positive"]  # index = label id in the files
SPLITS = ("train", "dev", "test")


def data_dir() -> Path:
    """Folder with the stsa.binary.* files (``$EASYTX_SST2_DIR`` overrides)."""
    return Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_DIR))


def split_path(split: str) -> Path:
    """Path of one split's file."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return data_dir() / f"stsa.binary.{split}"


def parse_line(line: str) -> tuple[str, int]:
    """Split ``'1 some text'`` into ``('some text', 1)``."""
    label, sep, text = line.strip().partition(" ")
    if not sep or label not in ("0", "1") or not text:
        raise ValueError(f"malformed SST-2 line: {line[:80]!r}")
    return text, int(label)


def read_split(split: str, limit: int = 0) -> tuple[list[str], list[int]]:
    """Texts and labels of a split, in file order; ``limit > 0`` keeps the first rows."""
    texts: list[str] = []
    labels: list[int] = []
    with open(split_path(split), encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            text, label = parse_line(line)
            texts.append(text)
            labels.append(label)
            if limit and len(texts) >= limit:
                break
    return texts, labels


GLUE_DIR = Path("/work/shared/data/sst2_glue_alps")
GLUE_DIR_ENV = "EASYTX_SST2_GLUE_DIR"


def read_glue(split: str, limit: int = 0) -> tuple[list[str], list[int]]:
    """SST-2 as GLUE has it (``$EASYTX_SST2_GLUE_DIR``, default ``../shared/data/sst2_glue_alps``).

    ``"train"``: GLUE's training set, phrases and sentences (the folder's ``train.tsv`` and
    ``dev.tsv``, 67,349 rows); ``"dev"``: GLUE's labelled dev set (the folder's ``test.tsv``, the
    872 sentences published SST-2 figures are measured on). ``limit > 0`` keeps the first rows.
    """
    import csv

    files = {"train": ("train.tsv", "dev.tsv"), "dev": ("test.tsv",)}
    if split not in files:
        raise ValueError(f"unknown GLUE split {split!r}; expected one of {tuple(files)}")
    folder = Path(os.environ.get(GLUE_DIR_ENV, GLUE_DIR))
    texts: list[str] = []
    labels: list[int] = []
    for name in files[split]:
        with open(folder / name, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                texts.append(row["sentence"].strip())
                labels.append(int(row["label"]))
    if limit:
        texts, labels = texts[:limit], labels[:limit]
    return texts, labels
