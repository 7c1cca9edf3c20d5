"""A timm-style model registry: architectures register themselves by name, with their classifier.

    @register_model(classifier="head.fc")
    def resnet18(num_classes=7, in_chans=1, img_size=48, **kwargs) -> nn.Module: ...

    model = create_model("resnet18", num_classes=7, in_chans=1, img_size=48)

Every registered model offers timm's interface:

- ``forward_features(x)``: what the classifier layer receives. For every model with a dense
  classifier that is the pooled ``(N, num_features)`` vector after any hidden layers and the dropout
  before the classifier (timm's pre-logits), so ``model(x)`` equals
  ``model.get_classifier()(model.forward_features(x))``.
- ``num_features``: the width the classifier receives.
- ``get_classifier()``: the layer at the registry's ``classifier`` path, and
  ``reset_classifier(num_classes)``: a freshly initialised one of that size in its place.

Two exceptions, both declared here: mini_xception has no dense layer (its classifier is the paper's
3x3 conv to one map per class, which is then averaged; its features are the map that conv sees), and
an ensemble has no classifier of its own (``classifier=None``; its features are its members',
side by side, and ``reset_classifier`` resets every member's).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from emoscope.errors import ModelError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable[..., nn.Module]
    classifier: str | None
    """Attribute path of the final classifier layer (timm's ``default_cfg["classifier"]``): the tensors
    whose rows are classes, e.g. ``head.fc`` -> ``head.fc.weight`` and ``head.fc.bias``."""
    default_img_size: int
    description: str


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(*, classifier: str | None, default_img_size: int = 48):
    """Register a factory ``fn(num_classes, in_chans, img_size, **kwargs) -> nn.Module``.

    The factory's name is the model name; the first line of its docstring is its description.
    Every model the factory builds carries its :class:`ModelEntry` as ``default_cfg``.
    """

    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = factory.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")

        @functools.wraps(factory)
        def build(*args, **kwargs) -> nn.Module:
            model = factory(*args, **kwargs)
            model.default_cfg = _REGISTRY[name]
            return model

        doc = (factory.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelEntry(name, build, classifier, default_img_size, doc[0] if doc else "")
        return build

    return wrap


# Every architecture is registered before these run: importing this module imports its package first,
# and the package's __init__ imports every architecture module (each runs its @register_model).
def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; `emoscope models` lists the {len(_REGISTRY)} available") from None


def create_model(
    name: str, num_classes: int = 7, in_chans: int = 1, img_size: int | None = None, **kwargs
) -> nn.Module:
    """Build a registered architecture with freshly initialised weights."""
    entry = get_entry(name)
    size = entry.default_img_size if img_size is None else int(img_size)
    return entry.factory(num_classes=num_classes, in_chans=in_chans, img_size=size, **kwargs)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def architecture_cost(name: str, num_classes: int, in_chans: int, img_size: int, **kwargs) -> dict:
    """Parameters and forward MFLOPs of a registered architecture, built on torch's meta device: shapes only,
    no memory and no initialisation, so a 67M-parameter network costs a fraction of a second."""
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)
        mflops = count_mflops(model, in_chans, img_size)
    return {"params": count_params(model), "mflops": mflops}


def count_mflops(model: nn.Module, in_chans: int, img_size: int) -> float:
    """Forward-pass MFLOPs for one image (1 multiply-add = 2 FLOPs), via torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, in_chans, img_size, img_size))
    model.train(was_training)
    return counter.get_total_flops() / 1e6
