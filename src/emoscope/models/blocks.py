"""Building blocks shared by every architecture: conv-norm-act, attention, inverted residuals, heads."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from emoscope.errors import ModelError

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]

# Below this input size the ImageNet stem (stride 4 before the first stage) would throw away most of a
# 48x48 face, so models switch to a CIFAR-style stride-1 stem.
LARGE_INPUT = 112


def is_small_input(img_size: int) -> bool:
    return img_size < LARGE_INPUT


def _no_norm(num_features: int) -> nn.Module:
    return nn.Identity()


def norm_layer(batch_norm: bool = True) -> NormLayer:
    """BatchNorm2d, or a per-channel identity for the ``batch_norm=False`` ablation."""
    return nn.BatchNorm2d if batch_norm else _no_norm


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` without losing more than 10% (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNAct(nn.Sequential):
    """Conv2d + norm + activation ('same' padding unless given); the conv has a bias only without norm."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm: NormLayer = nn.BatchNorm2d,
        act: ActLayer | None = nn.ReLU,
        padding: int | None = None,
    ):
        bn = norm(out_ch)
        pad = kernel_size // 2 if padding is None else padding
        conv = nn.Conv2d(
            in_ch, out_ch, kernel_size, stride, pad, groups=groups, bias=isinstance(bn, nn.Identity)
        )
        super().__init__(conv, bn, act() if act is not None else nn.Identity())
        self.out_channels = out_ch


def resnet_stem(in_chans: int, out_ch: int, img_size: int, norm: NormLayer) -> nn.Sequential:
    """3x3 stride-1 conv for small faces; the ImageNet 7x7/2 conv + 3x3/2 max-pool otherwise."""
    if is_small_input(img_size):
        return nn.Sequential(ConvBNAct(in_chans, out_ch, 3, norm=norm))
    return nn.Sequential(ConvBNAct(in_chans, out_ch, 7, 2, norm=norm), nn.MaxPool2d(3, 2, 1))


def scale_cfg(cfg: Sequence[int | str], width: float) -> tuple[int | str, ...]:
    """A VGG-style config with every conv's channels times ``width`` (pools kept)."""
    return tuple(item if item == "M" else make_divisible(int(item) * width) for item in cfg)


def vgg_features(cfg: Sequence[int | str], in_chans: int, norm: NormLayer) -> nn.Sequential:
    """VGG-style stack: an int is a 3x3 conv-norm-ReLU with that many channels, "M" a 2x2 max-pool."""
    layers: list[nn.Module] = []
    ch = in_chans
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers.append(ConvBNAct(ch, int(item), 3, norm=norm))
            ch = int(item)
    return nn.Sequential(*layers)


def grid_pool(img_size: int, total_stride: int, grid: int) -> nn.AvgPool2d:
    """Average-pool the final map of a flatten-into-dense model to ``grid x grid``.

    A fixed kernel/stride computed from ``img_size`` (the windows AdaptiveAvgPool2d would use when they
    are uniform), because AdaptiveAvgPool2d to a size that does not divide the input cannot export to ONNX.
    """
    feat = img_size // total_stride
    if feat < grid:
        raise ModelError(
            f"img_size {img_size} is too small for this model: it needs at least {grid * total_stride}"
        )
    stride = feat // grid
    return nn.AvgPool2d(feat - (grid - 1) * stride, stride)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): channel gates from globally pooled features."""

    def __init__(self, channels: int, squeeze_ch: int, gate: ActLayer = nn.Sigmoid):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze_ch, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(squeeze_ch, channels, 1)
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class CBAM(nn.Module):
    """Convolutional Block Attention Module (Woo et al. 2018): channel then spatial attention."""

    def __init__(self, channels: int, reduction: int = 16, spatial_kernel: int = 7):
        super().__init__()
        hidden = max(channels // reduction, 8)
        # One MLP shared by the average- and max-pooled descriptors, as in the paper.
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, spatial_kernel, padding=spatial_kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True))
        x = x * torch.sigmoid(pooled)
        maps = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatial(maps))


class InvertedResidual(nn.Module):
    """MobileNetV2/V3 block: 1x1 expand, depthwise kxk, optional SE, linear 1x1 project, identity skip.

    The expansion conv is skipped when ``exp_ch == in_ch`` (the t=1 block of V2, the first blocks of V3).
    """

    def __init__(
        self,
        in_ch: int,
        exp_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        use_se: bool = False,
        act: ActLayer = nn.ReLU,
        norm: NormLayer = nn.BatchNorm2d,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        if exp_ch != in_ch:
            layers.append(ConvBNAct(in_ch, exp_ch, 1, norm=norm, act=act))
        layers.append(ConvBNAct(exp_ch, exp_ch, kernel_size, stride, groups=exp_ch, norm=norm, act=act))
        if use_se:
            layers.append(SqueezeExcite(exp_ch, make_divisible(exp_ch // 4), gate=nn.Hardsigmoid))
        layers.append(ConvBNAct(exp_ch, out_ch, 1, norm=norm, act=None))
        self.block = nn.Sequential(*layers)
        self.use_skip = stride == 1 and in_ch == out_ch
        self.out_channels = out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_skip else out


class ClassifierModel(nn.Module):
    """``get_classifier`` and ``reset_classifier`` for a registered model.

    The registry declares where each model's classifier is and records that on every model it
    builds as ``default_cfg`` (see :mod:`emoscope.models.registry`); subclasses provide
    ``forward_features`` and ``num_features``.
    """

    num_features: int

    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.default_cfg.classifier)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a freshly initialised Linear with ``num_classes`` outputs."""
        parent, _, name = self.default_cfg.classifier.rpartition(".")
        fresh = nn.Linear(self.num_features, num_classes)
        init_weights(fresh)
        setattr(self.get_submodule(parent), name, fresh)


class ClassifierHead(nn.Module):
    """Global average pool, dropout, linear. With ``num_classes=0`` it returns the pooled features."""

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.0):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.fc = nn.Linear(in_features, num_classes) if num_classes > 0 else nn.Identity()

    def pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """What ``fc`` receives: the pooled, dropped-out features."""
        return self.drop(self.flatten(self.pool(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pre_logits(x))


class MLPHead(nn.Sequential):
    """Layers ending in the classifier ``fc``; a Sequential, so the weights keep their ``<index>.`` keys."""

    @property
    def fc(self) -> nn.Module:
        return self[-1]

    def pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """What ``fc`` receives: the output of every layer before it."""
        for layer in list(self)[:-1]:
            x = layer(x)
        return x


class SequentialClassifier(ClassifierModel, MLPHead):
    """A whole network written as one Sequential ending in its classifier (the VGG-style nets)."""

    def __init__(self, *layers: nn.Module):
        super().__init__(*layers)
        self.num_features = self.fc.in_features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pre_logits(x)


def init_weights(model: nn.Module) -> None:
    """Kaiming-normal convs, unit/zero norms, small-normal linears: the torchvision recipe."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
