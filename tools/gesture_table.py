"""Print how the landmark rules read generated hands (see docs/gestures.md) and optionally put the
tables between ``<!-- MARKER -->`` and ``<!-- /MARKER -->`` in a Markdown file.

    python tools/gesture_table.py --readme docs/gestures.md            # the current rules
    python tools/gesture_table.py --count 400 --seed 0                 # print only

Deterministic: the same count and seed give the same hands and the same table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoscope.apps.bench import replace_between_markers
from emoscope.gestures.landmark_bench import markdown, read_generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="generated hands per letter and look-alike")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readme", type=Path, help="Markdown file to put the tables in")
    parser.add_argument("--marker", default="gestures:table", help="the markers' name in that file")
    args = parser.parse_args()
    table = (f"{args.count} generated hands per shape (seed {args.seed}), a quarter per hand and facing, from "
             f"`python tools/gesture_table.py --count {args.count} --seed {args.seed}`.\n\n"
             + markdown(read_generated(args.count, args.seed)))
    print(table, end="")
    if args.readme:
        replace_between_markers(args.readme, args.marker, table)


if __name__ == "__main__":
    main()
