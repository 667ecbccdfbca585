"""Offline tiny models and tokenizers for tests, examples and docs.

:func:`make_tiny_model` writes a real Hugging Face model folder (config, fast tokenizer trained with
``tokenizers`` on generated sentences, weights) for the BERT, DistilBERT, RoBERTa and MiniLM
families, with hidden size 32 and 2 layers, in seconds and without any network. Weights can be
written as TensorFlow ``tf_model.h5`` or as PyTorch-layout ``model.safetensors`` (the form most hub
checkpoints take) so the loading paths of :mod:`easytx.backend` can be tested.

:func:`keyword_dataset` makes a small labelled data set whose label is decided by a keyword, which
a tiny model learns in a few epochs; :func:`entity_dataset` does the same for named-entity tagging.
"""

from __future__ import annotations

import collections
import os
import random
import socket
import subprocess
from pathlib import Path

import numpy as np

from . import _env  # noqa: F401

__all__ = [
    "FAMILIES",
    "TINY_HEAD_LR",
    "sentences",
    "keyword_dataset",
    "long_keyword_dataset",
    "entity_dataset",
    "write_conll",
    "multilabel_dataset",
    "regression_dataset",
    "pair_dataset",
    "make_tiny_model",
    "to_pt_safetensors",
    "has_tf_classes",
    "assert_same_entities",
    "free_port",
    "stop_process",
]

FAMILIES = ("bert", "distilbert", "roberta", "minilm")

_SUBJECTS = [
    "the film",
    "this movie",
    "the plot",
    "the actor",
    "my friend",
    "the ending",
    "the cast",
    "the story",
    "our team",
    "the book",
    "the song",
    "that show",
    "the director",
    "the script",
    "the music",
    "this café",
    "the hotel",
    "the meal",
    "the service",
]
_VERBS = ["was", "seemed", "felt", "looked", "became", "is", "remains", "sounds"]
_FILLERS = ["quite", "really", "somewhat", "very", "rather", "truly", "honestly", "simply", "a bit"]
_NEUTRAL = [
    "long",
    "short",
    "loud",
    "quiet",
    "old",
    "new",
    "strange",
    "familiar",
    "slow",
    "fast",
    "red",
    "blue",
    "green",
    "early",
    "late",
    "modern",
    "classic",
    "simple",
]
POSITIVE = ["great", "wonderful", "excellent", "delightful", "superb", "lovely"]
NEGATIVE = ["awful", "terrible", "dreadful", "boring", "horrible", "poor"]


def sentences(n: int = 400, *, seed: int = 0) -> list[str]:
    """``n`` generated English sentences (varied lengths) for training tiny tokenizers."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [
            rng.choice(_SUBJECTS),
            rng.choice(_VERBS),
            rng.choice(_FILLERS),
            rng.choice(_NEUTRAL + POSITIVE + NEGATIVE),
        ]
        for _ in range(rng.randint(0, 12)):
            words += [
                rng.choice(["and", "but", "while", "because"]),
                rng.choice(_SUBJECTS),
                rng.choice(_VERBS),
                rng.choice(_NEUTRAL),
            ]
        out.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
    return out


#: ``head_lr_multiplier`` for training the tiny models (:func:`make_tiny_model`). easytx's
#: multi-label default (30, :attr:`easytx.tasks.Task.head_lr_multiplier`) lets a new head catch up
#: with a *pretrained* encoder that must move little; a tiny model's encoder is random and learns
#: everything at the high rates tiny recipes use (1e-3 to 5e-3), where a head 30 times faster
#: overshoots.
TINY_HEAD_LR = 1.0


def keyword_dataset(
    n: int = 200, *, seed: int = 0, classes: tuple[str, ...] = ("neg", "pos")
) -> tuple[list[str], list[str]]:
    """Texts whose class is given by one keyword: positive words -> ``classes[1]``, etc.

    With three classes, the third class's texts hold only neutral adjectives.
    """
    rng = random.Random(seed)
    texts, labels = [], []
    pools = {0: NEGATIVE, 1: POSITIVE, 2: _NEUTRAL}
    for i in range(n):
        c = i % len(classes)
        words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_FILLERS), rng.choice(pools[c])]
        for _ in range(rng.randint(0, 4)):
            words += ["and", rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_NEUTRAL)]
        rng.shuffle(words) if rng.random() < 0.3 else None
        texts.append(" ".join(words) + ".")
        labels.append(classes[c])
    return texts, labels


def long_keyword_dataset(
    n: int = 100, *, filler_words: int = 60, seed: int = 0, classes: tuple[str, ...] = ("neg", "pos")
) -> tuple[list[str], list[str]]:
    """Long texts decided by a keyword near their end: :func:`keyword_dataset`'s texts, each
    after about ``filler_words`` words of neutral clauses (no positive or negative word).

    A model that reads only its first ``maxlen`` tokens sees the filler alone; sliding windows
    (``docs/long-texts.md``) reach the keyword.

    >>> x, y = long_keyword_dataset(2, filler_words=20)
    >>> len(x[0].split()) > 20, y
    (True, ['neg', 'pos'])
    """
    rng = random.Random(seed + 1000)
    x, y = keyword_dataset(n, seed=seed, classes=classes)
    texts = []
    for text in x:
        words: list[str] = []
        while len(words) < filler_words:
            clause = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_FILLERS), rng.choice(_NEUTRAL)]
            words += " ".join(clause).split() + ["and"]
        texts.append(" ".join(words) + " " + text)
    return texts, y


_PEOPLE = [
    ["Angela", "Merkel"],
    ["Anna"],
    ["Peter", "Blackburn"],
    ["Maria", "Lopez"],
    ["Tom"],
    ["Kofi", "Annan"],
]
_PLACES = [["Paris"], ["Berlin"], ["New", "York"], ["Lagos"], ["Oslo"], ["Buenos", "Aires"]]
_ORGS = [["Siemens"], ["United", "Nations"], ["Acme", "Corp"], ["Reuters"]]
_ENTITY_TEMPLATES = [
    "{PER} visited {LOC} .",
    "{PER} met {PER} in {LOC} on Monday .",
    "the story of {PER} was quite long .",
    "{ORG} opened an office in {LOC} .",
    "my friend works for {ORG} and {PER} works in {LOC} .",
    "{LOC} is really familiar to {PER} .",
    "the film was simply great .",
]


def entity_dataset(n: int = 200, *, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """``n`` generated sentences as word lists with IOB2 tags (PER, LOC, ORG), for NER tests.

    Entities come from short fixed lists, so a tiny model learns them in a few epochs.

    >>> words, tags = entity_dataset(1, seed=0)
    >>> len(words[0]) == len(tags[0])
    True
    """
    rng = random.Random(seed)
    pools = {"PER": _PEOPLE, "LOC": _PLACES, "ORG": _ORGS}
    sentences, tags = [], []
    for _ in range(n):
        words, labels = [], []
        for token in rng.choice(_ENTITY_TEMPLATES).split():
            if token.startswith("{"):
                kind = token[1:-1]
                entity = rng.choice(pools[kind])
                words += entity
                labels += [f"B-{kind}"] + [f"I-{kind}"] * (len(entity) - 1)
            else:
                words.append(token.capitalize() if not words else token)
                labels.append("O")
        sentences.append(words)
        tags.append(labels)
    return sentences, tags


def write_conll(path: Path, sentences: list, tags: list, extra_column: bool = True) -> Path:
    """Write sentences and tags as a CoNLL-2003 file (``word POS tag``, ``-DOCSTART-`` first)."""
    lines = ["-DOCSTART- -X- O", ""]
    for words, labels in zip(sentences, tags):
        lines += [f"{w} NNP {t}" if extra_column else f"{w} {t}" for w, t in zip(words, labels)]
        lines.append("")
    Path(path).write_text("\n".join(lines), encoding="utf-8")
    return Path(path)


def multilabel_dataset(n: int = 200, *, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """Multi-label data a tiny model learns: ``["pos"]`` for texts with a positive word,
    ``["neg"]`` for a negative word, ``[]`` for neither.

    (Tiny 2-layer models pick up one direction of evidence; two labels that are independent of
    each other would leave one of them at chance, so no text carries both here.)
    """
    x, y = keyword_dataset(n, seed=seed, classes=("neg", "pos", "none"))
    return x, [[] if label == "none" else [label] for label in y]


def regression_dataset(n: int = 200, *, seed: int = 0) -> tuple[list[str], list[float]]:
    """Texts whose float target is ``2.5 * (#positive words) - 1.5 * (#negative words) + 10``."""
    rng = random.Random(seed)
    texts, targets = [], []
    for i in range(n):
        n_pos, n_neg = i % 3, (i // 3) % 3
        words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_FILLERS)]
        words += [rng.choice(POSITIVE) for _ in range(n_pos)] + [rng.choice(NEGATIVE) for _ in range(n_neg)]
        words += [rng.choice(_NEUTRAL)]
        rng.shuffle(words)
        texts.append(" ".join(words) + ".")
        targets.append(2.5 * n_pos - 1.5 * n_neg + 10.0)
    return texts, targets


def pair_dataset(n: int = 200, *, seed: int = 0) -> tuple[list[tuple[str, str]], list[str]]:
    """Sentence pairs ``(text_a, text_b)`` labelled with the sentiment of ``text_b``
    (``"neg"``/``"pos"``); ``text_a`` is a short neutral phrase such as ``"the plot"``."""
    x, y = keyword_dataset(n, seed=seed)
    rng = random.Random(seed + 1)
    return [(rng.choice(_SUBJECTS), text) for text in x], list(y)


def _wordpiece_vocab(corpus, normalizer, pre_tokenizer, specials, vocab_size: int) -> dict:
    """A WordPiece vocabulary that depends on the corpus alone: the special tokens, every character
    (alone and as a ``##`` continuation), then the corpus's words, most frequent first (ties in
    alphabetical order), up to ``vocab_size``.

    ``tokenizers``' WordPiece trainer breaks ties between equally frequent merges in hash-map
    order, which changes from one process to the next: the same corpus gave a different vocabulary
    (and so different token ids, sequence lengths and tiny-model results) in every test process.
    """
    counts: collections.Counter = collections.Counter()
    for text in corpus:
        counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    alphabet = sorted({char for word in counts for char in word})
    tokens = list(specials) + alphabet + ["##" + char for char in alphabet]
    if len(tokens) > vocab_size:
        raise ValueError(
            f"`vocab_size` must hold the {len(tokens)} special tokens and characters of the corpus. "
            f"Received: vocab_size={vocab_size}"
        )
    known = set(tokens)
    for word, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if len(tokens) == vocab_size:
            break
        if word not in known:
            tokens.append(word)
            known.add(word)
    return {token: i for i, token in enumerate(tokens)}


def _train_tokenizer(family: str, corpus: list[str], vocab_size: int):
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    if family == "roberta":
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        tok.train_from_iterator(corpus, trainer)
        tok.post_processor = processors.RobertaProcessing(
            ("</s>", tok.token_to_id("</s>")),
            ("<s>", tok.token_to_id("<s>")),
            add_prefix_space=False,
        )
        return tok
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = _wordpiece_vocab(corpus, normalizer, pre_tokenizer, specials, vocab_size)
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tok


def _fast_tokenizer(family: str, tok, max_length: int):
    try:
        from transformers import BertTokenizerFast, DistilBertTokenizerFast, RobertaTokenizerFast
    except ImportError:  # transformers versions without the *Fast names: the generic fast tokenizer
        from transformers import PreTrainedTokenizerFast

        BertTokenizerFast = DistilBertTokenizerFast = RobertaTokenizerFast = PreTrainedTokenizerFast

    if family == "roberta":
        return RobertaTokenizerFast(
            tokenizer_object=tok,
            bos_token="<s>",
            eos_token="</s>",
            sep_token="</s>",
            cls_token="<s>",
            unk_token="<unk>",
            pad_token="<pad>",
            mask_token="<mask>",
            model_max_length=max_length,
        )
    cls = DistilBertTokenizerFast if family == "distilbert" else BertTokenizerFast
    return cls(
        tokenizer_object=tok,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def _config(family: str, vocab_size: int, max_positions: int, pad_id: int):
    from transformers import BertConfig, DistilBertConfig, RobertaConfig

    common = dict(vocab_size=vocab_size, pad_token_id=pad_id)
    if family == "distilbert":
        return DistilBertConfig(
            dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=max_positions, **common
        )
    if family == "roberta":
        return RobertaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=max_positions + 2,
            type_vocab_size=1,
            bos_token_id=0,
            eos_token_id=2,
            **common,
        )
    return BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        **common,
    )


def _config_dict(family: str, vocab_size: int, max_positions: int, pad_id: int) -> dict:
    """The ``config.json`` :func:`_config`'s transformers config object writes (for environments
    without transformers' TF classes, where the model is built with :mod:`easytx.encoders`)."""
    if family == "distilbert":
        return {
            "activation": "gelu",
            "attention_dropout": 0.1,
            "dim": 32,
            "dropout": 0.1,
            "hidden_dim": 64,
            "initializer_range": 0.02,
            "max_position_embeddings": max_positions,
            "model_type": "distilbert",
            "n_heads": 2,
            "n_layers": 2,
            "pad_token_id": pad_id,
            "qa_dropout": 0.1,
            "seq_classif_dropout": 0.2,
            "sinusoidal_pos_embds": False,
            "vocab_size": vocab_size,
        }
    d = {
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": max_positions,
        "model_type": "bert",
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "pad_token_id": pad_id,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    if family == "roberta":
        d.update(
            model_type="roberta",
            max_position_embeddings=max_positions + 2,
            type_vocab_size=1,
            bos_token_id=0,
            eos_token_id=2,
        )
    return d


def has_tf_classes() -> bool:
    """Whether the installed transformers offers its TensorFlow model classes (transformers < 5
    with tf-keras); without them tiny models are built with :mod:`easytx.encoders`."""
    try:
        from transformers.utils import is_tf_available

        if not is_tf_available():
            return False
        from transformers import TFAutoModel  # noqa: F401
        from transformers.modeling_tf_utils import TFPreTrainedModel  # noqa: F401
    except Exception:  # ImportError, or transformers refusing Keras 3 without tf-keras
        return False
    return True


def _write_pt_safetensors(model, folder: Path) -> None:
    """Save a TF base model's weights in PyTorch layout/naming, as hub checkpoints are."""
    from safetensors.numpy import save_file
    from transformers.modeling_tf_pytorch_utils import (
        TransposeType,
        convert_tf_weight_name_to_pt_weight_name,
    )

    state = {}
    for weight in model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            weight.name,
            start_prefix_to_remove=model.base_model_prefix + ".",
            tf_weight_shape=weight.shape,
        )
        value = weight.numpy()
        if transpose is TransposeType.SIMPLE:
            value = value.T
        state[name] = np.ascontiguousarray(value)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


def to_pt_safetensors(tf_folder: str | os.PathLike, out_folder: str | os.PathLike) -> Path:
    """Copy a TF model folder, re-writing its weights as a PyTorch-layout ``model.safetensors``.

    The result holds exactly the same weights in the form hub checkpoints take, so tests can
    check that both loading paths give identical models.
    """
    import shutil

    tf_folder, out_folder = Path(tf_folder), Path(out_folder)
    if not has_tf_classes():
        from .encoders.weights import from_pretrained, save_pretrained

        model = from_pretrained(tf_folder, head=None)
        shutil.copytree(
            tf_folder, out_folder, ignore=shutil.ignore_patterns("tf_model.h5", "model.safetensors*")
        )
        save_pretrained(model, out_folder)
        return out_folder
    from transformers import TFAutoModel

    shutil.copytree(tf_folder, out_folder, ignore=shutil.ignore_patterns("tf_model.h5"))
    _write_pt_safetensors(TFAutoModel.from_pretrained(str(tf_folder)), out_folder)
    return out_folder


def make_tiny_model(
    folder: str | os.PathLike,
    family: str = "bert",
    *,
    weights: str | None = None,
    vocab_size: int = 400,
    max_length: int = 128,
    seed: int = 0,
    corpus: list[str] | None = None,
) -> Path:
    """Write a tiny pretrained-style model folder (hidden 32, 2 layers) and return its path.

    Parameters
    ----------
    folder : path
        Where to write (created).
    family : {"bert", "distilbert", "roberta", "minilm"}
        ``"minilm"`` is a BERT architecture, as MiniLM checkpoints are.
    weights : {"tf", "pt_safetensors"}, optional
        ``"tf"`` writes ``tf_model.h5``; ``"pt_safetensors"`` writes a PyTorch-layout
        ``model.safetensors`` (no torch needed). Where transformers has no TF classes
        (transformers 5), only ``"pt_safetensors"`` is possible: the random model is then built with
        :mod:`easytx.encoders`. Default: ``"tf"`` where transformers has its TF classes, else
        ``"pt_safetensors"``.
    vocab_size, max_length, seed : int
        Tokenizer size, model length limit and weight seed.
    corpus : list of str, optional
        Sentences to build the tokenizer's vocabulary from (default: :func:`sentences` plus the
        texts of :func:`keyword_dataset` and :func:`entity_dataset`). The vocabulary depends on the
        corpus alone, so every process builds the same tokenizer.

    Examples
    --------
    >>> import tempfile
    >>> path = make_tiny_model(tempfile.mkdtemp(), "distilbert")  # doctest: +SKIP
    """
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES}. Received: {family!r}")
    tf_classes = has_tf_classes()
    if weights is None:
        weights = "tf" if tf_classes else "pt_safetensors"
    if weights not in ("tf", "pt_safetensors"):
        raise ValueError(f"`weights` must be 'tf' or 'pt_safetensors'. Received: {weights!r}")
    if weights == "tf" and not tf_classes:
        from .errors import MissingDependencyError

        raise MissingDependencyError(
            "weights='tf' writes tf_model.h5 with transformers' TensorFlow classes, which the installed "
            "transformers does not offer (transformers >= 5, or no tf-keras). Received: weights='tf'. "
            "Use weights='pt_safetensors', or install 'transformers<5' and tf-keras."
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arch = "bert" if family == "minilm" else family
    corpus = corpus or (
        sentences(400, seed=seed)
        + keyword_dataset(300, seed=seed + 1)[0]
        + [" ".join(words) for words in entity_dataset(100, seed=seed + 2)[0]]
    )
    tokenizer = _fast_tokenizer(arch, _train_tokenizer(arch, corpus, vocab_size), max_length)
    tokenizer.save_pretrained(str(folder))
    if not tf_classes:
        import json

        import keras

        from .encoders import EncoderConfig, build_model, save_pretrained

        config_dict = _config_dict(arch, len(tokenizer), max_length, tokenizer.pad_token_id)
        keras.utils.set_random_seed(seed)
        model = build_model(EncoderConfig.from_dict(config_dict), None)
        save_pretrained(model, folder)  # then the config.json transformers' config class writes:
        (folder / "config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True) + "\n")
        return folder
    from transformers import TFAutoModel

    from ._keras import set_random_seed

    config = _config(arch, len(tokenizer), max_length, tokenizer.pad_token_id)
    set_random_seed(seed)  # tf-keras' initializers draw from its own generator, not tf.random's
    model = TFAutoModel.from_config(config)
    model(model.dummy_inputs, training=False)
    if weights == "tf":
        model.save_pretrained(str(folder), safe_serialization=False)
    else:
        config.save_pretrained(str(folder))
        _write_pt_safetensors(model, folder)
    return folder


def assert_same_entities(a: list, b: list, *, atol: float = 1e-4) -> None:
    """Assert two lists of per-text entity lists agree, scores within ``atol``.

    Two engines (TensorFlow and ONNX Runtime) find the same entities at the same offsets, but their
    scores can differ in the last printed digit; everything but ``score`` must match exactly.

    Raises
    ------
    AssertionError
        If the texts, types, offsets or number of entities differ, or a score differs by more
        than ``atol``.
    """
    if len(a) != len(b):
        raise AssertionError(f"{len(a)} texts against {len(b)}")
    for row_a, row_b in zip(a, b):
        plain_a = [{k: v for k, v in e.items() if k != "score"} for e in row_a]
        plain_b = [{k: v for k, v in e.items() if k != "score"} for e in row_b]
        if plain_a != plain_b:
            raise AssertionError(f"entities differ: {plain_a} != {plain_b}")
        np.testing.assert_allclose([e["score"] for e in row_a], [e["score"] for e in row_b], atol=atol)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a test server started next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen, *, timeout: float = 20) -> None:
    """Terminate a test's child process (e.g. ``easytx serve``); kill it if it outlives ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
