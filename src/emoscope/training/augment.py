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


def _chosen(n: int, p: float, gen: torch.Generator, device) -> torch.Tensor:
    """A ``(n, 1, 1, 1)`` mask of the images a transform applied with probability ``p`` changes."""
    return (torch.rand(n, generator=gen, device=device) < p).view(n, 1, 1, 1)


class RandomGamma(nn.Module):
    """A gamma curve with exponent ``exp(u)``, ``u`` uniform in ``[-log_range, log_range]``, on every image."""

    def __init__(self, log_range: float):
        super().__init__()
        self.log_range = log_range

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        exponent = torch.exp(_uniform(x.shape[0], -self.log_range, self.log_range, gen, x.device))
        return x.clamp_min(1e-4) ** exponent.view(-1, 1, 1, 1).to(x.dtype)


class RandomDarken(nn.Module):
    """Under-exposure: pixels scaled by a factor log-uniform in ``[floor, 1]``."""

    def __init__(self, p: float, floor: float = 0.12):
        super().__init__()
        self.p, self.floor = p, floor

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        scale = torch.exp(_uniform(n, math.log(self.floor), 0.0, gen, x.device)).view(n, 1, 1, 1)
        return torch.where(_chosen(n, self.p, gen, x.device), x * scale, x)


class RandomOccluder(nn.Module):
    """A flat-shaded blob of up to four overlapping ellipses (a hand, a strap, a frame, hair)
    somewhere on the face, with anti-aliased edges."""

    BLOBS = 4

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        dev, k = x.device, self.BLOBS

        def draw(*shape, low=0.0, high=1.0):
            return torch.rand(*shape, generator=gen, device=dev) * (high - low) + low

        anchor = draw(n, 1, 2, low=0.15, high=0.85)
        centres = anchor + draw(n, k, 2, low=-0.15, high=0.15)  # fractions of the side
        axes = draw(n, k, 2, low=0.04, high=0.22)
        angles = draw(n, k, low=0, high=math.pi)
        present = torch.cat([torch.ones(n, 1, device=dev, dtype=torch.bool), draw(n, k - 1) < 0.6], 1)
        ys = (torch.arange(h, device=dev, dtype=x.dtype) + 0.5) / h
        xs = (torch.arange(w, device=dev, dtype=x.dtype) + 0.5) / w
        dx = xs[None, None, None, :] - centres[..., 0, None, None]
        dy = ys[None, None, :, None] - centres[..., 1, None, None]
        cos, sin = torch.cos(angles)[..., None, None], torch.sin(angles)[..., None, None]
        u = (dx * cos + dy * sin) / axes[..., 0, None, None]
        v = (-dx * sin + dy * cos) / axes[..., 1, None, None]
        # (1 - r) times the minor semi-axis in pixels is about the distance inside the edge: a 1-pixel soft edge
        edge = (axes.min(-1).values * min(h, w))[..., None, None]
        coverage = ((1 - torch.sqrt(u * u + v * v)) * edge + 0.5).clamp(0, 1) * present[..., None, None]
        mask = coverage.amax(1, keepdim=True) * _chosen(n, self.p, gen, dev)
        shade = draw(n, 1, 1, 1)
        return x * (1 - mask) + shade * mask


class RandomBlur(nn.Module):
    """Gaussian blur with sigma uniform in ``[min_sigma, max_sigma]`` pixels, separable, reflect-padded."""

    def __init__(self, p: float, max_sigma: float, min_sigma: float = 0.3):
        super().__init__()
        self.p, self.max_sigma, self.min_sigma = p, max_sigma, min_sigma

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, c, h, w = x.shape
        radius = max(1, math.ceil(3 * self.max_sigma))
        sigma = _uniform(n, self.min_sigma, self.max_sigma, gen, x.device)
        taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None].to(x.dtype) ** 2))
        kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)
        # one group per image and channel: every image gets its own kernel in a single conv call
        flat = F.pad(x.reshape(1, n * c, h, w), (radius,) * 4, mode="reflect")
        flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * c)
        flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * c)
        return torch.where(_chosen(n, self.p, gen, x.device), flat.reshape(n, c, h, w), x)


class RandomLowResolution(nn.Module):
    """Downscaled (area) to a side uniform in ``[min_side, side)``, then upscaled back (bilinear)."""

    def __init__(self, p: float, min_side: int):
        super().__init__()
        self.p, self.min_side = p, min_side

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        top = min(h, w)
        if self.min_side >= top:
            return x
        sides = torch.randint(self.min_side, top, (n,), generator=gen, device=x.device)
        chosen = _chosen(n, self.p, gen, x.device).view(n)
        out = x.clone()
        for side in sides[chosen].unique().tolist():  # one resize pair per distinct side
            rows = chosen & (sides == side)
            small = F.interpolate(x[rows], size=(round(side * h / top), round(side * w / top)), mode="area")
            out[rows] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        return out


class RandomNoise(nn.Module):
    """Sensor noise with a std uniform in ``(0, max_std]``: Gaussian for half the chosen images,
    shot-noise-like (std growing with the square root of brightness) for the other half."""

    def __init__(self, p: float, max_std: float):
        super().__init__()
        self.p, self.max_std = p, max_std

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, dev = x.shape[0], x.device
        std = _uniform(n, 0.0, self.max_std, gen, dev).view(n, 1, 1, 1).to(x.dtype)
        shot = (torch.rand(n, generator=gen, device=dev) < 0.5).view(n, 1, 1, 1)
        std = torch.where(shot, std * torch.sqrt(x.clamp_min(0) * 2), std)  # equal std at mid-grey
        noise = torch.randn(x.shape, generator=gen, device=dev, dtype=x.dtype) * std
        return torch.where(_chosen(n, self.p, gen, dev), (x + noise).clamp(0, 1), x)


def _dct_matrix(size: int = 8) -> torch.Tensor:
    """The orthonormal DCT-II matrix: JPEG's 8x8 transform (its 1/4 C(u) C(v) scaling is orthonormal)."""
    k = torch.arange(size, dtype=torch.float64)
    matrix = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * size)) * math.sqrt(2 / size)
    matrix[0] /= math.sqrt(2)
    return matrix.float()


# The JPEG standard's luminance quantisation table (ITU T.81, Annex K), scaled by quality as libjpeg does.
_JPEG_LUMA = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)


class RandomJPEG(nn.Module):
    """Grey-scale JPEG compression, vectorised: 8x8 block DCT, quantisation by the standard luminance
    table at a quality uniform in ``[min_quality, max_quality]``, inverse DCT, rounding to 8 bits.
    (The entropy coding that JPEG adds is lossless, so this is the codec's whole loss.)"""

    def __init__(self, p: float, min_quality: int, max_quality: int = 75):
        super().__init__()
        self.p, self.min_quality, self.max_quality = p, min_quality, max_quality
        self.register_buffer("dct", _dct_matrix(), persistent=False)
        self.register_buffer("luma", _JPEG_LUMA.clone(), persistent=False)

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, c, h, w = x.shape
        dev = x.device
        quality = torch.randint(self.min_quality, self.max_quality + 1, (n,), generator=gen, device=dev).float()
        scale = torch.where(quality < 50, 5000 / quality, 200 - 2 * quality)
        table = ((self.luma.to(dev)[None] * scale[:, None, None] + 50) // 100).clamp(1, 255)
        ph, pw = -h % 8, -w % 8  # whole blocks: pad as the encoder does, by repeating the edge
        levels = F.pad(x.float(), (0, pw, 0, ph), mode="replicate") * 255 - 128
        blocks = levels.reshape(n, c, (h + ph) // 8, 8, (w + pw) // 8, 8).transpose(3, 4)
        dct = self.dct.to(dev)
        table = table.view(n, 1, 1, 1, 8, 8)
        coefficients = torch.round(dct @ blocks @ dct.T / table) * table
        restored = (dct.T @ coefficients @ dct).transpose(3, 4).reshape(n, c, h + ph, w + pw)
        restored = (torch.round(restored + 128).clamp(0, 255) / 255)[..., :h, :w].to(x.dtype)
        return torch.where(_chosen(n, self.p, gen, dev), restored, x)


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
        # Camera degradations, in the order a picture suffers them: exposure, what is in front of the
        # face, optics, sensor resolution and noise, compression.
        if cfg.gamma:
            steps.append(RandomGamma(cfg.gamma))
        if cfg.darken:
            steps.append(RandomDarken(cfg.darken))
        if cfg.occlude:
            steps.append(RandomOccluder(cfg.occlude))
        if cfg.blur:
            steps.append(RandomBlur(cfg.blur, cfg.blur_sigma))
        if cfg.lowres:
            steps.append(RandomLowResolution(cfg.lowres, cfg.lowres_side))
        if cfg.noise:
            steps.append(RandomNoise(cfg.noise, cfg.noise_std))
        if cfg.jpeg:
            steps.append(RandomJPEG(cfg.jpeg, cfg.jpeg_quality))
        if cfg.erasing:
            steps.append(RandomErasing(cfg.erasing))
        self.steps = nn.ModuleList(steps)
        self.mix = BatchMix(cfg.mixup, cfg.cutmix)

    def forward(self, x: torch.Tensor, targets: torch.Tensor, gen: torch.Generator):
        for step in self.steps:
            x = step(x, gen)
        return self.mix(x, targets, gen)
