"""Augmentations as modules acting on whole batches (Kornia-style).

Each transform takes a float batch ``(B, C, H, W)`` in [0, 1] and an explicit
``torch.Generator``, so an epoch's augmentations depend only on its seed (exact resume) and
run as a few vectorised tensor ops instead of a per-image Python loop (fast on 2 cores, and
the same code runs on a GPU).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emoscope.training.config import AugmentConfig


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


class RandomAffine(nn.Module):
    """Rotation, zoom, translation and horizontal flip in one resampling pass."""

    def __init__(self, rotate: float, scale: float, shift: float, hflip: float):
        super().__init__()
        self.rotate, self.scale, self.shift, self.hflip = rotate, scale, shift, hflip

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        angle = _uniform(n, -self.rotate, self.rotate, gen, dev) * (math.pi / 180)
        zoom = _uniform(n, 1 - self.scale, 1 + self.scale, gen, dev)
        # affine_grid works in [-1, 1] coordinates, where the image side has length 2.
        tx = _uniform(n, -2 * self.shift, 2 * self.shift, gen, dev)
        ty = _uniform(n, -2 * self.shift, 2 * self.shift, gen, dev)
        flip = torch.where(torch.rand(n, generator=gen, device=dev) < self.hflip, -1.0, 1.0)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
        ).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class RandomCropPad(nn.Module):
    """Pad by ``pad`` pixels (edge values) and crop back to the original size at a random offset."""

    def __init__(self, pad: int):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        padded = F.pad(x, (self.pad,) * 4, mode="replicate")
        oy = torch.randint(0, 2 * self.pad + 1, (n,), generator=gen, device=x.device)
        ox = torch.randint(0, 2 * self.pad + 1, (n,), generator=gen, device=x.device)
        rows = (oy[:, None] + torch.arange(h, device=x.device))[:, :, None]
        cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None]
        return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


class ColorJitter(nn.Module):
    """Random brightness offset and contrast factor around each image's mean."""

    def __init__(self, brightness: float, contrast: float):
        super().__init__()
        self.brightness, self.contrast = brightness, contrast

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        shape = (n, 1, 1, 1)
        offset = _uniform(n, -self.brightness, self.brightness, gen, dev).view(shape)
        factor = _uniform(n, 1 - self.contrast, 1 + self.contrast, gen, dev).view(shape)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * factor + mean + offset).clamp(0, 1)


class RandomErasing(nn.Module):
    """Zhong et al.'s random erasing: a rectangle of 2-33% of the area filled with noise."""

    def __init__(self, p: float, area: tuple[float, float] = (0.02, 0.33), ratio: tuple[float, float] = (0.3, 3.3)):
        super().__init__()
        self.p, self.area, self.ratio = p, area, ratio

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        dev = x.device
        area = _uniform(n, *self.area, gen, dev) * h * w
        log_ratio = _uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), gen, dev)
        eh = torch.sqrt(area * torch.exp(log_ratio)).clamp(1, h).long()
        ew = torch.sqrt(area / torch.exp(log_ratio)).clamp(1, w).long()
        y0 = (torch.rand(n, generator=gen, device=dev) * (h - eh + 1)).long()
        x0 = (torch.rand(n, generator=gen, device=dev) * (w - ew + 1)).long()
        apply = torch.rand(n, generator=gen, device=dev) < self.p
        ys = torch.arange(h, device=dev)[None, :, None]
        xs = torch.arange(w, device=dev)[None, None, :]
        mask = (
            (ys >= y0[:, None, None]) & (ys < (y0 + eh)[:, None, None])
            & (xs >= x0[:, None, None]) & (xs < (x0 + ew)[:, None, None])
            & apply[:, None, None]
        )[:, None]
        noise = torch.rand(x.shape, generator=gen, device=dev, dtype=x.dtype)
        return torch.where(mask, noise, x)


class BatchMix(nn.Module):
    """MixUp (Zhang et al.) and CutMix (Yun et al.) on a batch and its soft targets.

    With both enabled, each batch uses one of them at random.
    """

    def __init__(self, mixup: float, cutmix: float):
        super().__init__()
        self.mixup, self.cutmix = mixup, cutmix

    def forward(self, x: torch.Tensor, targets: torch.Tensor, gen: torch.Generator):
        # numpy's Beta sampler, seeded from the torch generator to stay reproducible.
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen, device=x.device)))
        modes = [m for m, alpha in (("mixup", self.mixup), ("cutmix", self.cutmix)) if alpha > 0]
        if not modes:
            return x, targets
        mode = modes[rng.integers(len(modes))]
        alpha = self.mixup if mode == "mixup" else self.cutmix
        lam = float(rng.beta(alpha, alpha))
        perm = torch.randperm(x.shape[0], generator=gen, device=x.device)
        if mode == "mixup":
            mixed = lam * x + (1 - lam) * x[perm]
        else:
            h, w = x.shape[-2:]
            cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
            cy, cx = int(rng.integers(h)), int(rng.integers(w))
            y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
            x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
            mixed = x.clone()
            mixed[:, :, y0:y1, x0:x1] = x[perm][:, :, y0:y1, x0:x1]
            lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the pasted area decides the target mix
        return mixed, lam * targets + (1 - lam) * targets[perm]


class BatchAugment(nn.Module):
    """The per-image transforms of an :class:`AugmentConfig`, then batch mixing."""

    def __init__(self, cfg: AugmentConfig):
        super().__init__()
        steps: list[nn.Module] = []
        if cfg.crop_pad:
            steps.append(RandomCropPad(cfg.crop_pad))
        if cfg.rotate or cfg.scale or cfg.shift or cfg.hflip:
            steps.append(RandomAffine(cfg.rotate, cfg.scale, cfg.shift, cfg.hflip))
        if cfg.brightness or cfg.contrast:
            steps.append(ColorJitter(cfg.brightness, cfg.contrast))
        if cfg.erasing:
            steps.append(RandomErasing(cfg.erasing))
        self.steps = nn.ModuleList(steps)
        self.mix = BatchMix(cfg.mixup, cfg.cutmix)

    def forward(self, x: torch.Tensor, targets: torch.Tensor, gen: torch.Generator):
        for step in self.steps:
            x = step(x, gen)
        return self.mix(x, targets, gen)
