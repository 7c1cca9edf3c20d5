"""Residual Masking Network (Pham, Vu & Tran, ICPR 2020): ResNet-34 stages refined by U-Net masks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emoscope.models.blocks import ConvBNAct, NormLayer, init_weights, norm_layer
from emoscope.models.registry import register_model
from emoscope.models.resnet import BasicBlock, ResNet


class MaskingBlock(nn.Module):
    """U-Net of residual blocks (``depth`` down/up levels, additive skips) ending in a sigmoid mask M.

    Shallower stages (bigger maps) get deeper U-Nets, as in the paper (depths 4, 3, 2, 1).
    """

    def __init__(self, channels: int, depth: int, norm: NormLayer):
        super().__init__()
        # Max-pool with padding 1 halves with ceil, so odd and tiny maps never reach zero size.
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(3, 2, 1), BasicBlock(channels, channels, 1, norm))
            for _ in range(depth)
        )
        self.up = nn.ModuleList(BasicBlock(channels, channels, 1, norm) for _ in range(depth))
        self.mask = nn.Sequential(
            ConvBNAct(channels, channels, 1, norm=norm), nn.Conv2d(channels, channels, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.down:
            skips.append(x)
            x = down(x)
        for up, skip in zip(self.up, reversed(skips), strict=True):
            # Resize to the skip's exact size: pooling rounded up, so 2x upsampling may overshoot.
            x = up(F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False) + skip)
        return self.mask(x)


class ResidualMaskingNet(ResNet):
    """ResNet-34 trunk; after stage i the features F become F * (1 + M_i), so a mask can emphasise
    regions but never erase the residual signal."""

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        drop_rate: float = 0.0,
        batch_norm: bool = True,
        width: float = 1.0,
    ):
        super().__init__(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, img_size, drop_rate, batch_norm, width)
        norm = norm_layer(batch_norm)
        self.masks = nn.ModuleList(
            MaskingBlock(stage[-1].out_channels, depth, norm)
            for stage, depth in zip(self.stages, (4, 3, 2, 1), strict=True)
        )
        init_weights(self.masks)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage, mask in zip(self.stages, self.masks, strict=True):
            x = stage(x)
            x = x * (1 + mask(x))
        return self.head.pre_logits(x)


@register_model(classifier="head.fc")
def rmn(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    """Residual Masking Network (Pham et al. 2020): ResNet-34 + U-Net masking blocks, F * (1 + M)."""
    return ResidualMaskingNet(num_classes, in_chans, img_size, **kwargs)
