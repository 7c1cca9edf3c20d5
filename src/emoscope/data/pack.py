"""Dataset packs: image sets squeezed into one small file, to move a dataset to a remote GPU or node.

A pack holds named splits of one label set. Each image is coded by the median edge predictor of
LOCO-I/JPEG-LS (every pixel predicted from its left, upper and upper-left neighbours) and the
residuals are xz-compressed, which stores FER2013 at about two thirds of its raw size losslessly, or 55%
with ``bits=7`` (each pixel rounded to one of 128 levels, at most one grey level off; the lease of a
remote GPU here caps what travels at 64 MiB). ``load_dataset`` reads a ``*.emopack`` path like
any other dataset, so a training config only names the pack.
"""

from __future__ import annotations

import io
import json
import lzma
from pathlib import Path

import numpy as np

from emoscope.data.imageset import ImageSet
from emoscope.data.labels import get_label_set
from emoscope.errors import DataError

PACK_SUFFIX = ".emopack"
FORMAT = "emoscope-pack-1"


def _med_prediction(up: np.ndarray, left: np.ndarray, upleft: np.ndarray) -> np.ndarray:
    high, low = np.maximum(up, left), np.minimum(up, left)
    return np.where(upleft >= high, low, np.where(upleft <= low, high, up + left - upleft))


def encode_residuals(levels_image: np.ndarray, levels: int) -> np.ndarray:
    """Prediction residuals (mod ``levels``) of ``(N, H, W[, C])`` integer images; neighbours outside are 0."""
    q = levels_image.astype(np.int16)
    up, left, upleft = np.zeros_like(q), np.zeros_like(q), np.zeros_like(q)
    up[:, 1:] = q[:, :-1]
    left[:, :, 1:] = q[:, :, :-1]
    upleft[:, 1:, 1:] = q[:, :-1, :-1]
    return ((q - _med_prediction(up, left, upleft)) % levels).astype(np.uint8)


def decode_residuals(residuals: np.ndarray, levels: int) -> np.ndarray:
    """Inverse of :func:`encode_residuals`: pixel by pixel in raster order, all images at once."""
    out = np.zeros(residuals.shape, dtype=np.int16)
    zero = np.zeros((residuals.shape[0], *residuals.shape[3:]), dtype=np.int16)
    for r in range(residuals.shape[1]):
        for c in range(residuals.shape[2]):
            up = out[:, r - 1, c] if r else zero
            left = out[:, r, c - 1] if c else zero
            upleft = out[:, r - 1, c - 1] if r and c else zero
            out[:, r, c] = (residuals[:, r, c] + _med_prediction(up, left, upleft)) % levels
    return out.astype(np.uint8)


def write_pack(splits: dict[str, ImageSet], path: str | Path, bits: int = 8) -> Path:
    """Write ``splits`` (name -> image set, one label set) to ``path``; ``bits`` < 8 rounds pixels."""
    if not 1 <= bits <= 8:
        raise DataError(f"bits must be 1..8, not {bits}")
    if not splits:
        raise DataError("a pack needs at least one split")
    label_sets = {images.label_set.name for images in splits.values()}
    if len(label_sets) > 1:
        raise DataError(f"the splits of a pack must share one label set, not {', '.join(sorted(label_sets))}")
    arrays: dict[str, np.ndarray] = {}
    for name, images in splits.items():
        arrays[f"{name}.residuals"] = encode_residuals(images.images >> (8 - bits), 2**bits)
        arrays[f"{name}.labels"] = images.labels
        if images.soft_labels is not None:
            arrays[f"{name}.soft_labels"] = images.soft_labels
    header = {"format": FORMAT, "bits": bits, "label_set": label_sets.pop(),
              "sources": {name: images.source for name, images in splits.items()}}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(lzma.compress(buffer.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    tmp.replace(path)
    return path


def load_pack(path: str | Path, split: str | None) -> ImageSet:
    """One split of a pack as an :class:`ImageSet` (pixels of a ``bits`` < 8 pack at their level's centre)."""
    path = Path(path)
    try:
        raw = lzma.decompress(path.read_bytes())
        with np.load(io.BytesIO(raw), allow_pickle=False) as entry:
            header = json.loads(entry["header"].tobytes())
            if header.get("format") != FORMAT:
                raise DataError(f"{path}: unknown pack format {header.get('format')!r}")
            names = list(header["sources"])
            if split not in names:
                raise DataError(f"{path}: no split {split!r} in this pack (it has {', '.join(names)})")
            # Only this split's arrays are read out of the archive, not every split's.
            arrays = {key: entry[key] for key in entry.files if key.startswith(f"{split}.")}
    except OSError as exc:
        raise DataError(f"{path}: cannot read pack ({exc.strerror or exc})") from None
    except (lzma.LZMAError, ValueError, KeyError, EOFError) as exc:
        raise DataError(f"{path}: not a valid emoscope pack ({type(exc).__name__})") from None
    bits = int(header["bits"])
    pixels = decode_residuals(arrays[f"{split}.residuals"], 2**bits)
    if bits < 8:
        shift = 8 - bits
        pixels = (pixels << shift) | (1 << (shift - 1))
    note = "" if bits == 8 else f", {bits}-bit pack"
    return ImageSet(
        images=pixels, labels=arrays[f"{split}.labels"], label_set=get_label_set(header["label_set"]),
        source=f"{header['sources'][split]}{note}", soft_labels=arrays.get(f"{split}.soft_labels"),
        meta={"split": split, "pack": str(path), "bits": bits},
    )
