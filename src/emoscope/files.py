"""Writing outputs so that nothing half-written sits under a final name: the folder is checked before
long work starts, and each file is written under a hidden temporary name in the same folder and
renamed into place only when complete (a rename within a folder is atomic)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emoscope.errors import EmoscopeError, OutputError


def write_failed(path: Path, exc: OSError) -> OutputError:
    """The one-line error for a refused write (disk full, file too large, permissions), naming the file."""
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def ensure_writable_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and check a file can be written in it, before any work is done."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".emoscope-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write here ({exc.strerror or exc})") from None
    return folder


def check_can_write_in(folder: Path) -> None:
    """Refuse now, creating nothing, when ``folder`` could not be made or written (for commands whose
    refusals must leave no folder behind); :func:`ensure_writable_folder` also creates it."""
    folder = Path(folder).absolute()
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot write here ({existing} is not a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: cannot write here (permission denied on {existing})")


def temporary_name(path: Path) -> Path:
    """A hidden name beside ``path`` with the same suffix (writers such as OpenCV's pick the format by it)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def partial_name(path: Path) -> Path:
    """Where an output that stopped before its end is kept: ``x.frames.csv`` -> ``x.frames.partial.csv``."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def commit(temporary: Path, path: Path) -> Path:
    """Move a finished temporary file into place."""
    try:
        os.replace(temporary, path)
    except OSError as exc:
        raise write_failed(path, exc) from None
    return path


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """``with atomic_output(path) as temporary:`` write ``temporary``; it becomes ``path`` only when
    the block ends without an error, and is removed otherwise. A full disk or a refused write is an
    :class:`~emoscope.errors.OutputError` naming the file."""
    path = Path(path)
    temporary = temporary_name(path)
    try:
        yield temporary
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise write_failed(path, exc) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    commit(temporary, path)


def write_text_atomic(path: Path, text: str) -> Path:
    with atomic_output(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's content, read in chunks (videos can be gigabytes)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_json_output(path: str | Path, what: str, command: str, keys) -> dict:
    """The JSON file ``command`` wrote (``what`` names it in messages), checked for ``keys``; a missing,
    unreadable or foreign file is one error line."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise EmoscopeError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    except json.JSONDecodeError:
        raise EmoscopeError(f"{path}: not a JSON {what}") from None
    missing = [key for key in keys if not isinstance(data, dict) or key not in data]
    if missing:
        raise EmoscopeError(f"{path}: not an `{command}` {what.split()[-1]} (missing {', '.join(missing)})")
    return data


def replace_between_markers(path: Path, marker: str, content: str) -> None:
    """Put ``content`` between ``<!-- marker -->`` and ``<!-- /marker -->`` in a Markdown file, so
    tables in the docs come from benchmark output, not from typing."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise EmoscopeError(f"{path}: no {start} ... {end} markers to put the table between")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    write_text_atomic(path, f"{head}{start}\n{content}{end}{tail}")
