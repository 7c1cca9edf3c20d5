"""Print how the landmark rules read generated hands (see docs/gestures.md) and optionally put the
tables between ``<!-- MARKER -->`` and ``<!-- /MARKER -->`` in a Markdown file.

    python tools/gesture_table.py --readme docs/gestures.md            # the current rules
    python tools/gesture_table.py --count 400 --seed 0                 # print only
    python tools/gesture_table.py --rules-at bdd2411 --readme docs/gestures.md --marker gestures:before
    python tools/gesture_table.py --model --readme docs/gestures.md --marker gestures:model

Deterministic: the same count and seed give the same hands and the same table.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

from emoscope.files import replace_between_markers
from emoscope.gestures.landmark_bench import Judge, landmark_letter, markdown, model_letter, read_generated
from emoscope.gestures.landmark_model import LandmarkModel

RULES = "src/emoscope/gestures/landmarks.py"


def rules_at(revision: str) -> Judge:
    """The landmark route with the rules (``landmarks.py``) of an earlier commit, on today's hands."""
    source = subprocess.run(["git", "show", f"{revision}:{RULES}"], capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"landmarks_at_{revision}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = sys.modules[path.stem] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return lambda points: landmark_letter(points, module.hand_shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="generated hands per letter and look-alike")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readme", type=Path, help="Markdown file to put the tables in")
    parser.add_argument("--marker", default="gestures:table", help="the markers' name in that file")
    parser.add_argument("--rules-at", metavar="REVISION", help="judge with the rules of this git commit")
    parser.add_argument("--model", action="store_true", help="judge with the shipped landmark model, not the rules")
    args = parser.parse_args()
    judge = rules_at(args.rules_at) if args.rules_at else model_letter(LandmarkModel.load()) if args.model \
        else landmark_letter
    rules = f" --rules-at {args.rules_at}" if args.rules_at else " --model" if args.model else ""
    table = (f"{args.count} generated hands per shape (seed {args.seed}), a quarter per hand and facing, from "
             f"`python tools/gesture_table.py --count {args.count} --seed {args.seed}{rules}`.\n\n"
             + markdown(read_generated(args.count, args.seed, judge)))
    print(table, end="")
    if args.readme:
        replace_between_markers(args.readme, args.marker, table)


if __name__ == "__main__":
    main()
