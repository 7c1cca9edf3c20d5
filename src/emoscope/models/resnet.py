"""ResNet family (He et al. 2016) and Wide ResNet (Zagoruyko & Komodakis 2016) as one parameterised class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from emoscope.models.blocks import (
    ClassifierHead,
    ClassifierModel,
    ConvBNAct,
    NormLayer,
    init_weights,
    make_divisible,
    norm_layer,
    resnet_stem,
)
from emoscope.models.registry import register_model


class _Residual(nn.Module):
    """relu(branch(x) + shortcut(x)); a 1x1 projection shortcut whenever the shape changes."""

    def __init__(self, branch: nn.Sequential, in_ch: int, out_ch: int, stride: int, norm: NormLayer):
        super().__init__()
        self.branch = branch
        self.shortcut = (
            ConvBNAct(in_ch, out_ch, 1, stride, norm=norm, act=None)
            if stride != 1 or in_ch != out_ch
            else nn.Identity()
        )
        self.act = nn.ReLU()
        self.out_channels = out_ch

    def zero_init_last(self) -> None:
        # Each block starts as the identity (Goyal et al. 2017): deep nets train faster and more stably.
        last_norm = self.branch[-1][1]
        if isinstance(last_norm, nn.BatchNorm2d):
            nn.init.zeros_(last_norm.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.branch(x) + self.shortcut(x))


class BasicBlock(_Residual):
    """Two 3x3 convs (ResNet-18/34)."""

    def __init__(self, in_ch: int, planes: int, stride: int = 1, norm: NormLayer = nn.BatchNorm2d):
        branch = nn.Sequential(
            ConvBNAct(in_ch, planes, 3, stride, norm=norm), ConvBNAct(planes, planes, 3, norm=norm, act=None)
        )
        super().__init__(branch, in_ch, planes, stride, norm)


class Bottleneck(_Residual):
    """1x1 reduce, 3x3 (with the stride: "ResNet v1.5"), 1x1 expand x4; ``base_width=128`` makes it wide."""

    expansion = 4

    def __init__(
        self, in_ch: int, planes: int, stride: int = 1, norm: NormLayer = nn.BatchNorm2d, base_width: int = 64
    ):
        width = planes * base_width // 64
        out_ch = planes * self.expansion
        branch = nn.Sequential(
            ConvBNAct(in_ch, width, 1, norm=norm),
            ConvBNAct(width, width, 3, stride, norm=norm),
            ConvBNAct(width, out_ch, 1, norm=norm, act=None),
        )
        super().__init__(branch, in_ch, out_ch, stride, norm)


BlockFactory = Callable[[int, int, int, NormLayer], _Residual]


class ResNet(ClassifierModel):
    """Stem, four stages of residual blocks (64-128-256-512 planes), pooled linear head; ``width``
    scales every stage's planes (0.25 gives a ~16x cheaper net for CPU-scale studies).

    Built with ``num_classes=0`` it has no classifier weights and ``forward`` returns the pooled
    features, so the net can serve as a backbone.
    """

    def __init__(
        self,
        block: BlockFactory,
        layers: Sequence[int],
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        drop_rate: float = 0.0,
        batch_norm: bool = True,
        width: float = 1.0,
    ):
        super().__init__()
        norm = norm_layer(batch_norm)
        planes_per_stage = [make_divisible(planes * width) for planes in (64, 128, 256, 512)]
        ch = planes_per_stage[0]
        self.stem = resnet_stem(in_chans, ch, img_size, norm)
        stages = []
        for i, (depth, planes) in enumerate(zip(layers, planes_per_stage, strict=True)):
            blocks = []
            for j in range(depth):
                blocks.append(block(ch, planes, 2 if i > 0 and j == 0 else 1, norm))
                ch = blocks[-1].out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = ch
        self.head = ClassifierHead(ch, num_classes, drop_rate)
        init_weights(self)
        for m in self.modules():
            if isinstance(m, _Residual):
                m.zero_init_last()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.pre_logits(self.stages(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.fc(self.forward_features(x))


@register_model(classifier="head.fc")
def resnet18(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """ResNet-18 (He et al. 2016), BasicBlocks [2,2,2,2]; CIFAR-style stem below 112 px."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, img_size, **kwargs)


@register_model(classifier="head.fc")
def resnet34(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """ResNet-34 (He et al. 2016), BasicBlocks [3,4,6,3]; CIFAR-style stem below 112 px."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, img_size, **kwargs)


@register_model(classifier="head.fc")
def resnet50(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """ResNet-50 (He et al. 2016), Bottlenecks [3,4,6,3]; CIFAR-style stem below 112 px."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, img_size, **kwargs)


@register_model(classifier="head.fc")
def wide_resnet50_2(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): ResNet-50 with bottleneck width doubled."""
    return ResNet(
        partial(Bottleneck, base_width=128), (3, 4, 6, 3), num_classes, in_chans, img_size, **kwargs
    )
