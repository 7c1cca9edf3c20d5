"""Every registered architecture builds, trains one step, honours batch_norm=False, offers the registry's
interface (forward_features, num_features, classifier, reset_classifier) and stays in budget."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from emoscope.errors import ModelError
from emoscope.models import count_mflops, count_params, create_model, list_models
from emoscope.models.registry import get_entry


MODELS = list_models()


@pytest.mark.parametrize("in_chans,img_size", [(1, 48), (3, 64)])
@pytest.mark.parametrize("name", MODELS)
def test_forward_backward(name: str, in_chans: int, img_size: int) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, in_chans=in_chans, img_size=img_size).train()
    logits = model(torch.randn(2, in_chans, img_size, img_size))
    assert logits.shape == (2, 5)
    loss = nn.functional.cross_entropy(logits, torch.tensor([0, 4]))
    assert torch.isfinite(loss)
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in params) == count_params(model)
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient reached {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in params)


@pytest.mark.parametrize("name", MODELS)
def test_model_interface(name: str) -> None:
    """timm's contract, one test for all: features feed the declared classifier, whose width is
    num_features, and reset_classifier swaps in a head of another size without renaming any weight."""
    entry = get_entry(name)
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, in_chans=1).eval()  # the registry's default input size
    x = torch.randn(2, 1, entry.default_img_size, entry.default_img_size)
    with torch.no_grad():
        logits, features = model(x), model.forward_features(x)
    assert logits.shape == (2, 5)
    assert isinstance(model.num_features, int) and features.shape[:2] == (2, model.num_features)
    if entry.classifier is not None:
        classifier = model.get_submodule(entry.classifier)
        assert model.get_classifier() is classifier
        with torch.no_grad():
            if isinstance(classifier, nn.Linear):
                assert classifier.in_features == model.num_features and features.ndim == 2
                torch.testing.assert_close(classifier(features), logits)
            else:  # mini_xception: the paper's 3x3 conv to one map per class, averaged
                assert isinstance(classifier, nn.Conv2d) and classifier.in_channels == model.num_features
                torch.testing.assert_close(classifier(features).mean((2, 3)), logits)
    keys = list(model.state_dict())
    model.reset_classifier(3)
    assert list(model.state_dict()) == keys
    with torch.no_grad():
        assert model(x).shape == (2, 3)


@pytest.mark.parametrize("name", MODELS)
def test_batch_norm_false_removes_batchnorm(name: str) -> None:
    model = create_model(name, num_classes=5, in_chans=1, img_size=32, batch_norm=False).eval()
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    with torch.no_grad():
        assert torch.isfinite(model(torch.randn(1, 1, 32, 32))).all()


def test_registry_has_all_models() -> None:
    assert len(MODELS) >= 15
    expected = {"baseline_cnn", "fer_fast_net", "mini_xception", "rmn", "hybrid_fusion", "wide_resnet50_2"}
    assert expected <= set(MODELS)


def test_baseline_cnn_size() -> None:
    assert 1.5e6 <= count_params(create_model("baseline_cnn", num_classes=7)) <= 1.9e6


def test_unknown_model_raises_model_error() -> None:
    with pytest.raises(ModelError):
        create_model("nope")


def test_unknown_kwarg_raises_type_error() -> None:
    with pytest.raises(TypeError):
        create_model("resnet18", not_an_option=1)


def test_fer_fast_net_budget() -> None:
    model = create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48)
    assert count_params(model) < 500_000
    assert 0 < count_mflops(model, in_chans=1, img_size=48) < 30


@pytest.mark.parametrize("img_size", [40, 44, 112])
def test_input_sizes(img_size: int) -> None:
    # Sizes straddling the CIFAR/ImageNet stem switch and odd pooling remainders, on cheap models.
    for name in ("baseline_cnn", "fer_fast_net", "mini_xception", "mobilenetv3_small", "simple_cnn5", "rmn"):
        model = create_model(name, num_classes=7, in_chans=1, img_size=img_size).eval()
        with torch.no_grad():
            assert model(torch.zeros(1, 1, img_size, img_size)).shape == (1, 7)


def test_fer_fast_net_exports_to_onnx(tmp_path) -> None:
    model = create_model("fer_fast_net", num_classes=7, in_chans=1, img_size=48).eval()
    x = torch.randn(1, 1, 48, 48)
    path = tmp_path / "fast.onnx"
    torch.onnx.export(model, x, str(path), dynamo=False, opset_version=17, input_names=["input"])
    ort = pytest.importorskip("onnxruntime")
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[
        0
    ]
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(out), model(x), atol=1e-5)
