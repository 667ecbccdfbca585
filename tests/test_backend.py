import numpy as np
import pytest

from easytx import backend
from easytx.errors import ModelNotFoundError
from easytx.testing import FAMILIES


@pytest.mark.parametrize("family", FAMILIES)
def test_pytorch_safetensors_load_without_torch_like_tf_weights(tiny_models, family):
    """PT-layout model.safetensors (hub style) gives exactly the weights of the TF checkpoint."""
    tf_model = backend.build_model(tiny_models[family, "tf"], head="sequence_classification", num_labels=3)
    pt_model = backend.build_model(
        tiny_models[family, "pt_safetensors"], head="sequence_classification", num_labels=3
    )
    main_tf = backend.backbone(tf_model)
    main_pt = backend.backbone(pt_model)
    assert len(main_tf.weights) == len(main_pt.weights) > 10
    for a, b in zip(main_tf.weights, main_pt.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=0, err_msg=a.name)


def test_torch_is_not_imported(tiny_models):
    import sys

    backend.build_model(tiny_models["bert", "pt_safetensors"], head="sequence_classification", num_labels=2)
    assert "torch" not in sys.modules


def test_pickle_only_checkpoint_is_refused(tiny_models, tmp_path):
    import shutil

    folder = tmp_path / "pt_bin"
    shutil.copytree(tiny_models["bert", "tf"], folder)
    (folder / "tf_model.h5").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(ModelNotFoundError, match="pickle"):
        backend.build_model(folder, head="sequence_classification", num_labels=2)


def test_hub_name_offline_explains_local_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match=r"hub could not provide it.*pass its path"):
        backend.resolve_model_source("no-such-org/no-such-model")


def test_missing_folder_and_not_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        backend.resolve_model_source(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        backend.load_config(tmp_path)


def test_freeze_blocks(tiny_models):
    model = backend.build_model(tiny_models["bert", "tf"], head="sequence_classification", num_labels=2)
    total = len(model.trainable_weights)
    backend.set_frozen(model, None)
    head_only = len(model.trainable_weights)
    backend.set_frozen(model, 1)
    partly = len(model.trainable_weights)
    backend.set_frozen(model, 0)
    assert head_only < partly < total == len(model.trainable_weights)
