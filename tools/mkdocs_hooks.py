"""MkDocs hooks for the documentation site (mkdocs.yml): the model cards, which live beside the weights in
src/emoscope/weights so that they ship with them, become pages of the site under models/, and the pages'
links to the cards there (../src/emoscope/weights/NAME.md, which work when the Markdown is read in the
repository) are pointed at those pages."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files, InclusionLevel

REPO = Path(__file__).resolve().parents[1]
CARDS = REPO / "src" / "emoscope" / "weights"
SITE_FOLDER = "models"
LINK = re.compile(r"\]\(([^()\s]+)\)")


def on_files(files: Files, config) -> Files:
    """Each card (NAME.md) and its confusion matrix (NAME_confusion.png) as files of the site; the cards
    are reached from models.md, not from the navigation."""
    for path in sorted(CARDS.glob("*.md")) + sorted(CARDS.glob("*_confusion.png")):
        files.append(File.generated(config, f"{SITE_FOLDER}/{path.name}", abs_src_path=str(path),
                                    inclusion=InclusionLevel.NOT_IN_NAV))
    return files


def on_page_markdown(markdown: str, page, config, files: Files) -> str:
    """Links from a docs page to a card in the repository, pointed at the card's page."""
    page_folder = posixpath.dirname(page.file.src_uri)

    def pointed(match: re.Match) -> str:
        target = match.group(1)
        if "://" in target or page.file.abs_src_path is None:
            return match.group(0)
        resolved = (Path(page.file.abs_src_path).parent / target.split("#", 1)[0]).resolve()
        if resolved.parent != CARDS.resolve():
            return match.group(0)
        anchor = target[len(target.split("#", 1)[0]):]
        return f"]({posixpath.relpath(f'{SITE_FOLDER}/{resolved.name}', page_folder or '.')}{anchor})"

    return LINK.sub(pointed, markdown)
