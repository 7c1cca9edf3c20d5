"""Feature-level fusion hybrid: ResNet-50 + MobileNetV2 + a CBAM attention CNN, concatenated into an MLP."""

from __future__ import annotations

import torch
from torch import nn

from emoscope.models.blocks import (
    CBAM,
    ClassifierHead,
    ClassifierModel,
    ConvBNAct,
    MLPHead,
    NormLayer,
    init_weights,
    make_divisible,
    norm_layer,
)
from emoscope.models.mobilenet import mobilenetv2
from emoscope.models.registry import register_model
from emoscope.models.resnet import resnet50


class AttentionCNN(nn.Module):
    """Small conv branch with CBAM after every stage (it attends to eyes, brows, mouth); returns pooled
    features, like the other branches."""

    def __init__(self, in_chans: int, norm: NormLayer, widths: tuple[int, ...] = (32, 64, 128), cbam: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        ch = in_chans
        for i, width in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [ConvBNAct(ch, width, 3, norm=norm), CBAM(width) if cbam else nn.Identity()]
            ch = width
        self.features = nn.Sequential(*layers)
        self.num_features = ch
        self.head = ClassifierHead(ch, 0)
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.pre_logits(self.features(x))


BRANCHES = ("resnet50", "mobilenetv2", "attention")


class HybridFusion(ClassifierModel):
    """Each branch is built with ``num_classes=0`` (no classifier weights) and gives its pooled
    features; the concatenation is projected by a two-layer MLP with dropout.

    The fusion study's ablations are options: ``branches`` (a subset of :data:`BRANCHES`), ``cbam``,
    ``batch_norm`` and ``drop_rate``; ``width`` scales every branch (the full hybrid costs ~6 GFLOPs
    at 48 px, so CPU-scale studies train a width-reduced one, named as such)."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        drop_rate: float = 0.5,
        batch_norm: bool = True,
        hidden: int = 512,
        width: float = 1.0,
        branches: tuple[str, ...] = BRANCHES,
        cbam: bool = True,
    ):
        super().__init__()
        unknown = set(branches) - set(BRANCHES)
        if unknown or not branches:
            raise ValueError(f"branches must be a non-empty subset of {', '.join(BRANCHES)}; got {list(branches)}")
        backbone_args = dict(
            num_classes=0, in_chans=in_chans, img_size=img_size, drop_rate=0.0, batch_norm=batch_norm
        )
        builders = {
            "resnet50": lambda: resnet50(**backbone_args, width=width),
            "mobilenetv2": lambda: mobilenetv2(**backbone_args, width_mult=width),
            "attention": lambda: AttentionCNN(
                in_chans, norm_layer(batch_norm), tuple(make_divisible(c * width) for c in (32, 64, 128)), cbam),
        }
        self.branches = nn.ModuleList([builders[name]() for name in BRANCHES if name in branches])
        self.head = MLPHead(
            nn.Dropout(drop_rate),
            nn.Linear(sum(b.num_features for b in self.branches), hidden),
            nn.ReLU(),
            nn.Dropout(drop_rate),
            nn.Linear(hidden, num_classes),
        )
        self.num_features = hidden
        init_weights(self.head)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.pre_logits(torch.cat([branch.forward_features(x) for branch in self.branches], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.fc(self.forward_features(x))


@register_model(classifier="head.4")
def hybrid_fusion(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """Fusion hybrid: ResNet-50 + MobileNetV2 + CBAM-CNN features concatenated, MLP head with dropout."""
    return HybridFusion(num_classes, in_chans, img_size, **kwargs)
