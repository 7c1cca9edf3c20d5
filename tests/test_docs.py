"""The README stays a front page whose links resolve, and the documentation site builds in strict mode:
every page of docs/ in its navigation, every link and anchor resolving, every API reference naming code
that still exists."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
FRONT_PAGE_LINES = 220
LINK = re.compile(r"\]\(([^()\s]+)\)")


def github_anchors(markdown: Path) -> set[str]:
    """The anchors GitHub (and the site, see mkdocs.yml's slugify) gives a page's headings."""
    from pymdownx.slugs import slugify

    anchor = slugify(case="lower")
    text = re.sub(r"^```.*?^```", "", markdown.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {anchor(heading.strip(), "-") for heading in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_the_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= FRONT_PAGE_LINES, f"README.md has {len(lines)} lines: move the details into docs/"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:3] == ["## Two commands", "## Intended use", "## Quick tour"]


def test_every_link_of_the_readme_resolves():
    pytest.importorskip("pymdownx", reason="pymdown-extensions (the dev extra) is not installed")
    broken = []
    for target in LINK.findall(README.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        resolved = (README.parent / path).resolve() if path else README
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in github_anchors(resolved):
            broken.append(f"{target}: no heading with this anchor")
    assert not broken, "\n".join(broken)


def test_the_documentation_site_builds_in_strict_mode(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs (the dev extra) is not installed")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings (the dev extra) is not installed")
    site = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                         cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    warnings = [line for line in run.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert run.returncode == 0, "\n".join(warnings) or run.stderr
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert "predict_image" in reference and "Every face in a photo" in reference  # from the docstring
    card = site / "models" / "fer-fast" / "index.html"  # the model cards are pages, linked from the docs
    assert card.is_file() and 'href="../models/part-mouth/"' in (site / "gui" / "index.html").read_text()
