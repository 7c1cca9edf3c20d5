"""MobileNetV2 (Sandler et al. 2018) and MobileNetV3 (Howard et al. 2019) from one configurable class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from emoscope.models.blocks import (
    ActLayer,
    ClassifierHead,
    ClassifierModel,
    ConvBNAct,
    InvertedResidual,
    MLPHead,
    init_weights,
    is_small_input,
    make_divisible,
    norm_layer,
)
from emoscope.models.registry import register_model


class BlockCfg(NamedTuple):
    """One InvertedResidual, as a row of the MobileNetV3 paper's tables."""

    kernel: int
    exp_ch: int
    out_ch: int
    use_se: bool
    act: ActLayer
    stride: int


RE, HS = nn.ReLU, nn.Hardswish

# MobileNetV3 paper, Table 1 (Large) and Table 2 (Small).
_V3_LARGE = [
    BlockCfg(3, 16, 16, False, RE, 1),
    BlockCfg(3, 64, 24, False, RE, 2),
    BlockCfg(3, 72, 24, False, RE, 1),
    BlockCfg(5, 72, 40, True, RE, 2),
    BlockCfg(5, 120, 40, True, RE, 1),
    BlockCfg(5, 120, 40, True, RE, 1),
    BlockCfg(3, 240, 80, False, HS, 2),
    BlockCfg(3, 200, 80, False, HS, 1),
    BlockCfg(3, 184, 80, False, HS, 1),
    BlockCfg(3, 184, 80, False, HS, 1),
    BlockCfg(3, 480, 112, True, HS, 1),
    BlockCfg(3, 672, 112, True, HS, 1),
    BlockCfg(5, 672, 160, True, HS, 2),
    BlockCfg(5, 960, 160, True, HS, 1),
    BlockCfg(5, 960, 160, True, HS, 1),
]
_V3_SMALL = [
    BlockCfg(3, 16, 16, True, RE, 2),
    BlockCfg(3, 72, 24, False, RE, 2),
    BlockCfg(3, 88, 24, False, RE, 1),
    BlockCfg(5, 96, 40, True, HS, 2),
    BlockCfg(5, 240, 40, True, HS, 1),
    BlockCfg(5, 240, 40, True, HS, 1),
    BlockCfg(5, 120, 48, True, HS, 1),
    BlockCfg(5, 144, 48, True, HS, 1),
    BlockCfg(5, 288, 96, True, HS, 2),
    BlockCfg(5, 576, 96, True, HS, 1),
    BlockCfg(5, 576, 96, True, HS, 1),
]
# MobileNetV2 paper, Table 2: expansion t, channels c, repeats n, first stride s.
_V2_TCNS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def _v2_blocks(stem_ch: int, width_mult: float) -> list[BlockCfg]:
    """Unroll the V2 table into per-block rows with absolute (already width-scaled) channels."""
    rows, in_ch = [], stem_ch
    for t, c, n, s in _V2_TCNS:
        out_ch = make_divisible(c * width_mult)
        for i in range(n):
            rows.append(BlockCfg(3, in_ch * t, out_ch, False, nn.ReLU6, s if i == 0 else 1))
            in_ch = out_ch
    return rows


def _scale(blocks: Sequence[BlockCfg], width_mult: float) -> list[BlockCfg]:
    return [
        b._replace(exp_ch=make_divisible(b.exp_ch * width_mult), out_ch=make_divisible(b.out_ch * width_mult))
        for b in blocks
    ]


class MobileNet(ClassifierModel):
    """Stem conv, InvertedResidual blocks, 1x1 conv to ``last_conv_ch``, pooled head.

    Small inputs get a stride-1 stem and lose the first stride-2 block's stride (total stride 8, so a
    48 px face ends at 6x6 instead of 2x2). ``head_ch`` adds V3's pre-logits linear + h-swish.
    """

    def __init__(
        self,
        blocks: Sequence[BlockCfg],
        stem_ch: int,
        stem_act: ActLayer,
        last_conv_ch: int,
        head_ch: int | None,
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        drop_rate: float = 0.2,
        batch_norm: bool = True,
    ):
        super().__init__()
        norm = norm_layer(batch_norm)
        small = is_small_input(img_size)
        layers: list[nn.Module] = [
            ConvBNAct(in_chans, stem_ch, 3, 1 if small else 2, norm=norm, act=stem_act)
        ]
        first_downsample = next(i for i, b in enumerate(blocks) if b.stride == 2)
        ch = stem_ch
        for i, b in enumerate(blocks):
            stride = 1 if small and i == first_downsample else b.stride
            layers.append(InvertedResidual(ch, b.exp_ch, b.out_ch, b.kernel, stride, b.use_se, b.act, norm))
            ch = b.out_ch
        layers.append(ConvBNAct(ch, last_conv_ch, 1, norm=norm, act=stem_act))
        self.features = nn.Sequential(*layers)
        if head_ch is None:
            self.head = ClassifierHead(last_conv_ch, num_classes, drop_rate)
        else:
            self.head = MLPHead(
                ClassifierHead(last_conv_ch, head_ch),
                nn.Hardswish(),
                nn.Dropout(drop_rate),
                nn.Linear(head_ch, num_classes),
            )
        self.num_features = head_ch or last_conv_ch
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.pre_logits(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.fc(self.forward_features(x))


def _mobilenetv3(
    table: Sequence[BlockCfg], last_conv: int, head_ch: int, width_mult: float = 1.0, **kwargs
) -> MobileNet:
    blocks = _scale(table, width_mult)
    return MobileNet(
        blocks,
        make_divisible(16 * width_mult),
        nn.Hardswish,
        make_divisible(last_conv * width_mult),
        make_divisible(head_ch * max(1.0, width_mult)),
        **kwargs,
    )


@register_model(classifier="head.fc")
def mobilenetv2(
    num_classes: int = 7, in_chans: int = 1, img_size: int = 48, width_mult: float = 1.0, **kwargs
) -> nn.Module:
    """MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks; ``width_mult``."""
    stem_ch = make_divisible(32 * width_mult)
    last_ch = make_divisible(1280 * max(1.0, width_mult))
    return MobileNet(
        _v2_blocks(stem_ch, width_mult),
        stem_ch,
        nn.ReLU6,
        last_ch,
        None,
        num_classes,
        in_chans,
        img_size,
        **kwargs,
    )


@register_model(classifier="head.3")
def mobilenetv3_large(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """MobileNetV3-Large (Howard et al. 2019): SE + h-swish blocks per the paper's Table 1."""
    return _mobilenetv3(
        _V3_LARGE, 960, 1280, num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs
    )


@register_model(classifier="head.3")
def mobilenetv3_small(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """MobileNetV3-Small (Howard et al. 2019): SE + h-swish blocks per the paper's Table 2."""
    return _mobilenetv3(
        _V3_SMALL, 576, 1024, num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs
    )
